"""Inventory reports per site and period, their pages, exports and API, and the forecast pages.

- ``reports``: the report functions ``(site, start, end, **options) -> Report`` and ``REPORTS``.
- ``export``: period parsing, SVG bar chart, CSV/XLSX/JSON output (shared with WIP's reports).
- ``views``: the report and forecast pages and the report API; ``urls`` and ``api_urls`` route them.
- ``registry``: the nav entries (imported by ``inventory/registry.py``).

``from inventory import analytics`` keeps giving the report functions and ``REPORTS``.
"""

from inventory.analytics.reports import (
    REPORTS,
    Report,
    abc,
    count_accuracy,
    lot_ageing,
    slow_movers,
    stock_value,
    stockouts,
    turnover,
)

__all__ = [
    "REPORTS",
    "Report",
    "abc",
    "count_accuracy",
    "lot_ageing",
    "slow_movers",
    "stock_value",
    "stockouts",
    "turnover",
]
