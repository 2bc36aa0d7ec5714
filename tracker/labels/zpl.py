"""Labels as Zebra ZPL II (4 × 2 in at 203 dpi by default).

- GS1-128: ``^BC`` in mode N, data starting ``>:`` (start B) ``>8`` (FNC1 in
  first position = GS1-128), and ``>8`` again after each variable-length
  element but the last; a literal ``>`` is ``>0``.
- GS1 DataMatrix: ``^BX`` quality 200 with ``` ` ``` as escape character, data
  starting with ```1`` (FNC1 first = GS1) and ```1`` as separator.
- Code 128 (plain): ``^BC`` with start B.
- QR: ``^BQ`` model 2, data prefixed ``MA,`` (error correction M, automatic input).
- Human text goes through ``^FH`` hex escapes so no value can inject ZPL commands.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracker.labels.gs1 import _predefined
from tracker.labels.label import Label, Symbology

DATAMATRIX_ESCAPE = "`"  # not in GS1's CSET 82, so never in validated data


def _text(value: str) -> str:
    """A ^FH field: '_', '^', '~' and non-ASCII as _XX hex so the text stays text."""
    out: list[str] = []
    for ch in value:
        if ch in "_^~\\" or not (32 <= ord(ch) < 127):
            out.extend(f"_{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def _code128_data(label: Label) -> str:
    if label.gs1 is None:
        return ">:" + label.text.replace(">", ">0")
    parts = [">:>8"]
    last = len(label.gs1.elements) - 1
    for i, (ai, value) in enumerate(label.gs1.elements):
        parts.append((ai + value).replace(">", ">0"))
        if i < last and not _predefined(ai):
            parts.append(">8")
    return "".join(parts)


def _datamatrix_data(label: Label) -> str:
    assert label.gs1 is not None  # noqa: S101 - Label forces CODE128 without GS1 data
    fnc1 = DATAMATRIX_ESCAPE + "1"
    parts = [fnc1]
    last = len(label.gs1.elements) - 1
    for i, (ai, value) in enumerate(label.gs1.elements):
        parts.append(ai + value)
        if i < last and not _predefined(ai):
            parts.append(fnc1)
    return "".join(parts)


def label_zpl(label: Label, *, width_dots: int = 812, height_dots: int = 406) -> str:
    lines = ["^XA", "^CI28", f"^PW{width_dots}", f"^LL{height_dots}", "^LH0,0"]
    lines.append(f"^FO20,15^A0N,28,28^FH^FD{_text(label.title[:40])}^FS")
    if label.symbology == Symbology.GS1_DATAMATRIX:
        lines.append(f"^FO20,55^BXN,6,200,,,6,{DATAMATRIX_ESCAPE}^FD{_datamatrix_data(label)}^FS")
        text_y = 230
    else:
        lines.append("^BY2,3,110")
        lines.append(f"^FO20,55^BCN,110,N,N,N^FD{_code128_data(label)}^FS")
        text_y = 175
    lines.append(f"^FO20,{text_y}^A0N,22,22^FH^FD{_text(label.human_data[:60])}^FS")
    for n, line in enumerate(label.lines[:4]):
        lines.append(f"^FO20,{text_y + 28 * (n + 1)}^A0N,22,22^FH^FD{_text(line[:50])}^FS")
    if label.qr:
        lines.append(f"^FO{width_dots - 200},40^BQN,2,4^FH^FDMA,{_text(label.qr)}^FS")
    lines.append("^XZ")
    return "\n".join(lines)


def labels_zpl(labels: Sequence[Label], **size) -> str:
    """One ^XA…^XZ block per label, ready to send to a Zebra printer's raw port."""
    return "\n".join(label_zpl(label, **size) for label in labels) + "\n"
