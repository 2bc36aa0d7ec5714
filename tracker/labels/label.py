"""What one label shows: a title, the main symbol, an optional QR and human-readable lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tracker.labels.gs1 import Gs1Data


class Symbology(StrEnum):
    GS1_128 = "gs1-128"
    GS1_DATAMATRIX = "gs1-datamatrix"
    CODE128 = "code128"  # plain (non-GS1) data such as a work order number


@dataclass(frozen=True)
class Label:
    """A label; ``gs1`` or ``text`` is the main symbol's data (``gs1`` wins).

    ``qr``: a URI for the QR code (a GS1 Digital Link for GS1 data).
    ``lines``: the human-readable text under the title.
    """

    title: str
    symbology: Symbology = Symbology.GS1_128
    gs1: Gs1Data | None = None
    text: str = ""
    qr: str | None = None
    lines: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.gs1 is None and not self.text:
            raise ValueError("A label needs GS1 data or text to encode.")
        if self.gs1 is None and self.symbology != Symbology.CODE128:
            object.__setattr__(self, "symbology", Symbology.CODE128)

    @property
    def human_data(self) -> str:
        """The text printed under the barcode: HRI for GS1 data, else the text itself."""
        return self.gs1.hri if self.gs1 is not None else self.text

    @classmethod
    def for_gs1(
        cls,
        *,
        title: str,
        pairs,
        symbology: Symbology = Symbology.GS1_128,
        lines=(),
        digital_link_base: str | None = None,
    ) -> Label:
        from tracker.labels.gs1 import DEFAULT_DIGITAL_LINK_BASE

        data = Gs1Data.of(pairs)
        return cls(
            title=title,
            symbology=symbology,
            gs1=data,
            qr=data.digital_link(digital_link_base or DEFAULT_DIGITAL_LINK_BASE),
            lines=tuple(lines),
        )
