"""Inventory reports per site and period, their pages, exports and API, and the forecast pages.

- ``reports``: ``REPORTS`` (slug -> title, function); the contract every report keeps.
- ``base``: the ``Report`` shape, the period window, ratios, the site's levels now and daily flows.
- ``flows``: stock value, turnover, ABC, slow movers.
- ``exposure``: stockout and under-reorder time, lot ageing and expiry, cycle-count accuracy.
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
