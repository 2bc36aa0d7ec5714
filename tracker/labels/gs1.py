"""GS1 element strings: built from (AI, value) pairs, checked and formatted by biip.

biip validates each AI's format and check digits (GTIN, SSCC, GLN, dates), so
a label never carries data a scanner would reject. Predefined-length AIs go
first (GS1 General Specifications 7.8.5: fewer FNC1 separators, and the
variable-length ones last need none after them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

GS = "\x1d"
#: AIs whose length is fixed by the standard (first two digits), so no FNC1 follows them.
_PREDEFINED_LENGTH_PREFIXES = {
    "00",
    "01",
    "02",
    "03",
    "04",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "20",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "41",
}
DEFAULT_DIGITAL_LINK_BASE = "https://id.gs1.org"


class Gs1Error(ValueError):
    """The element strings are not valid GS1 (wrong length, check digit, characters)."""


def _predefined(ai: str) -> bool:
    return ai[:2] in _PREDEFINED_LENGTH_PREFIXES


def yymmdd(value: dt.date) -> str:
    return value.strftime("%y%m%d")


@dataclass(frozen=True)
class Gs1Data:
    """Validated element strings, in encoding order."""

    elements: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str | dt.date | None]]) -> Gs1Data:
        """Build from (AI, value) pairs; ``None``/empty values are dropped, dates become YYMMDD.

        Raises ``Gs1Error`` when biip rejects the result.
        """
        from biip.gs1_messages import GS1Message

        cleaned = []
        for ai, value in pairs:
            if value is None or value == "":
                continue
            cleaned.append((ai, yymmdd(value) if isinstance(value, dt.date) else str(value)))
        if not cleaned:
            raise Gs1Error("No GS1 data.")
        ordered = sorted(
            cleaned, key=lambda p: 0 if _predefined(p[0]) else 1
        )  # stable: keeps caller order inside groups
        data = cls(tuple(ordered))
        try:
            parsed = GS1Message.parse_hri(data.hri)
        except Exception as exc:  # biip raises ParseError subclasses; any failure means invalid data
            raise Gs1Error(str(exc)) from exc
        for element in parsed.element_strings:
            problem = element.gtin_error or element.sscc_error or element.gln_error
            if problem:
                raise Gs1Error(problem)
        if [(e.ai.ai, e.value) for e in parsed.element_strings] != list(ordered):
            raise Gs1Error(f"Element strings did not survive a parse: {data.hri}")
        return data

    @property
    def hri(self) -> str:
        """Human-readable interpretation: ``(01)09506000134352(10)ABC``."""
        return "".join(f"({ai}){value}" for ai, value in self.elements)

    @property
    def bracketed(self) -> str:
        """zint's GS1 input form: ``[01]09506000134352[10]ABC``."""
        return "".join(f"[{ai}]{value}" for ai, value in self.elements)

    @property
    def element_string(self) -> str:
        """What a scanner transmits after the symbology identifier: FNC1 as GS after
        each variable-length element but the last."""
        out = []
        last = len(self.elements) - 1
        for i, (ai, value) in enumerate(self.elements):
            out.append(ai + value)
            if i < last and not _predefined(ai):
                out.append(GS)
        return "".join(out)

    def value(self, ai: str) -> str | None:
        return next((v for a, v in self.elements if a == ai), None)

    def digital_link(self, base: str = DEFAULT_DIGITAL_LINK_BASE) -> str | None:
        """GS1 Digital Link URI (biip orders key, qualifiers and data attributes);
        None when no element is a Digital Link primary key (e.g. only a lot)."""
        from biip.gs1_messages import GS1Message

        try:
            uri = GS1Message.parse_hri(self.hri).as_gs1_digital_link_uri().value
        except Exception:  # no primary key (01, 00, 414, 8003...) means no Digital Link
            return None
        base = base.rstrip("/")
        if base != DEFAULT_DIGITAL_LINK_BASE:
            uri = base + uri[len(DEFAULT_DIGITAL_LINK_BASE) :]
        return uri
