"""Encoding: zxing-cpp (zint inside) for GS1-128, GS1 DataMatrix and Code 128; segno for QR.

Symbols come out as module matrices (rows of booleans, True = dark) that the
PDF and SVG renderers draw as rectangles, so print stays vector-sharp.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from tracker.labels.label import Label, Symbology


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple[bool, ...], ...]
    linear: bool  # a 1D symbol: one row stretched to the bar height

    @property
    def width(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    @property
    def height(self) -> int:
        return len(self.rows)


def _zxing_matrix(content: str, symbology: Symbology) -> Matrix:
    import numpy as np
    import zxingcpp

    fmt = zxingcpp.BarcodeFormat.DataMatrix if symbology == Symbology.GS1_DATAMATRIX else zxingcpp.BarcodeFormat.Code128
    gs1 = symbology in (Symbology.GS1_128, Symbology.GS1_DATAMATRIX)
    barcode = zxingcpp.create_barcode(content, fmt, gs1=gs1) if gs1 else zxingcpp.create_barcode(content, fmt)
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    if fmt == zxingcpp.BarcodeFormat.Code128:
        return Matrix(rows=(tuple(bool(v) for v in pixels[0]),), linear=True)
    return Matrix(rows=tuple(tuple(bool(v) for v in row) for row in pixels), linear=False)


def main_symbol(label: Label) -> Matrix:
    """The label's barcode as modules (GS1 data in zint's bracketed form, FNC1 added by the encoder)."""
    content = label.gs1.bracketed if label.gs1 is not None else label.text
    return _zxing_matrix(content, label.symbology)


def qr_symbol(uri: str) -> Matrix:
    import segno

    qr = segno.make(uri, error="m", micro=False)
    return Matrix(rows=tuple(tuple(bool(v) for v in row) for row in qr.matrix), linear=False)


def matrix_svg(matrix: Matrix, *, module: float = 2.0, bar_height: float = 50.0, quiet: int = 4) -> str:
    """An inline SVG of the modules (runs of dark modules merged into one rect per row)."""
    height_modules = 1 if matrix.linear else matrix.height
    w = (matrix.width + 2 * quiet) * module
    h = bar_height + 2 * quiet * module if matrix.linear else (height_modules + 2 * quiet) * module
    rects = []
    for y, row in enumerate(matrix.rows):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                ry = quiet * module + y * module
                rh = bar_height if matrix.linear else module
                rects.append(
                    f'<rect x="{(start + quiet) * module:g}" y="{ry:g}" width="{(x - start) * module:g}" height="{rh:g}"/>'
                )
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img">'
        f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{"".join(rects)}</g></svg>'
    )


def label_svg(label: Label) -> str:
    """The label's barcode, QR and text as one HTML fragment (for the preview page)."""
    parts = [f'<div class="label"><strong>{escape(label.title)}</strong>', matrix_svg(main_symbol(label))]
    parts.append(f"<div><code>{escape(label.human_data)}</code></div>")
    if label.qr:
        parts.append(matrix_svg(qr_symbol(label.qr), module=2.0))
        parts.append(f'<div class="muted">{escape(label.qr)}</div>')
    parts.extend(f"<div>{escape(line)}</div>" for line in label.lines)
    parts.append("</div>")
    return "".join(parts)
