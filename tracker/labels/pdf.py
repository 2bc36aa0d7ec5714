"""A sheet of labels as PDF (reportlab) for office printers: A4, 2 × 5 labels of 95 × 54 mm."""

from __future__ import annotations

import io
from collections.abc import Sequence

from tracker.labels.label import Label
from tracker.labels.symbols import Matrix, main_symbol, qr_symbol

COLUMNS, ROWS = 2, 5


def _draw_matrix(canvas, matrix: Matrix, x: float, y_top: float, module: float, bar_height: float) -> None:
    for r, row in enumerate(matrix.rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                if matrix.linear:
                    canvas.rect(
                        x + start * module, y_top - bar_height, (c - start) * module, bar_height, stroke=0, fill=1
                    )
                else:
                    canvas.rect(
                        x + start * module, y_top - (r + 1) * module, (c - start) * module, module, stroke=0, fill=1
                    )
            else:
                c += 1


def labels_pdf(labels: Sequence[Label], *, title: str = "Labels") -> bytes:
    """One PDF page per 10 labels; each label: title, barcode, HRI, QR, text lines."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    page_w, page_h = A4
    margin_x, margin_y = 10 * mm, 13.5 * mm
    cell_w, cell_h = (page_w - 2 * margin_x) / COLUMNS, (page_h - 2 * margin_y) / ROWS
    per_page = COLUMNS * ROWS
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        x0 = margin_x + (slot % COLUMNS) * cell_w + 4 * mm
        top = page_h - margin_y - (slot // COLUMNS) * cell_h - 4 * mm
        canvas.setFont("Helvetica-Bold", 9)
        canvas.drawString(x0, top - 8, label.title[:60])
        symbol = main_symbol(label)
        qr_size = 24 * mm if label.qr else 0
        room = cell_w - 8 * mm - qr_size - (3 * mm if label.qr else 0)
        if symbol.linear:
            module = min(room / symbol.width, 0.5 * mm)
            _draw_matrix(canvas, symbol, x0, top - 12, module, 14 * mm)
            text_y = top - 12 - 14 * mm - 9
        else:
            module = min(22 * mm / symbol.width, 1.0 * mm)
            _draw_matrix(canvas, symbol, x0, top - 12, module, 0)
            text_y = top - 12 - symbol.height * module - 9
        canvas.setFont("Courier", 7)
        canvas.drawString(x0, text_y, label.human_data[:70])
        canvas.setFont("Helvetica", 8)
        for n, line in enumerate(label.lines[:4]):
            canvas.drawString(x0, text_y - 10 * (n + 1), line[:60])
        if label.qr:
            qr = qr_symbol(label.qr)
            module = qr_size / qr.width
            _draw_matrix(canvas, qr, x0 + cell_w - 8 * mm - qr_size, top - 12, module, 0)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
