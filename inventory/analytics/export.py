"""Shared by the inventory and WIP report pages: period parsing, SVG bar chart, CSV/XLSX export.

Every exported cell goes through ``tracker.security.spreadsheet.safe_cell`` (no
formula injection from a lot code or SKU); numbers stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

from tracker.errors import ValidationFailed
from tracker.security.spreadsheet import safe_cell

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
CHART_BARS = 20


def period(params) -> tuple[dt.date, dt.date]:
    """``start``/``end`` (ISO dates, inclusive) from the query; default: the last 90 days."""
    today = timezone.localdate()
    try:
        end = dt.date.fromisoformat(params["end"]) if params.get("end") else today
        start = (
            dt.date.fromisoformat(params["start"]) if params.get("start") else end - dt.timedelta(days=DEFAULT_DAYS - 1)
        )
    except ValueError as exc:
        raise ValidationFailed("start and end must be dates (YYYY-MM-DD).", field="start") from exc
    if start > end:
        raise ValidationFailed("start must not be after end.", field="start")
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed(f"A period of at most {MAX_DAYS} days.", field="start")
    return start, end


def plain(value: Any) -> Any:
    """A JSON/spreadsheet-friendly value: Decimal → str (JSON) is left to callers; dates → ISO."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def bar_chart(rows: list[dict[str, Any]], label_key: str, value_key: str, *, width: int = 640) -> dict[str, Any] | None:
    """Horizontal bars for the first ``CHART_BARS`` rows (already sorted by the report)."""
    data = [(str(r.get(label_key) or "—"), float(r.get(value_key) or 0)) for r in rows[:CHART_BARS]]
    if not data or not any(v for _, v in data):
        return None
    top = max(abs(v) for _, v in data) or 1.0
    bar_h, label_w = 18, 160
    bars = [
        {
            "y": i * (bar_h + 4),
            "label": label[:24],
            "w": round(abs(v) / top * (width - label_w - 80), 1),
            "value": f"{v:,.2f}".rstrip("0").rstrip("."),
            "text_y": i * (bar_h + 4) + 13,
        }
        for i, (label, v) in enumerate(data)
    ]
    return {
        "width": width,
        "height": len(bars) * (bar_h + 4),
        "label_w": label_w,
        "bar_h": bar_h,
        "bars": bars,
        "value_x_pad": 6,
    }


def export(report, *, fmt: str, filename: str) -> HttpResponse:
    headings = [h for _, h in report.columns]
    keys = [k for k, _ in report.columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([safe_cell(h) for h in headings])
        for row in report.rows:
            writer.writerow([safe_cell(plain(row.get(k))) for k in keys])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(report.slug[:31])
    sheet.append([safe_cell(h) for h in headings])
    for row in report.rows:
        sheet.append([safe_cell(_xlsx(row.get(k))) for k in keys])
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def _xlsx(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # a spreadsheet cell is a float anyway; keeps it numeric
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value  # openpyxl refuses aware datetimes; UTC
    return value


def json_rows(report) -> list[dict[str, Any]]:
    keys = [k for k, _ in report.columns]
    return [
        {k: (str(v) if isinstance(v, Decimal) else plain(v)) for k in keys for v in [row.get(k)]} for row in report.rows
    ]
