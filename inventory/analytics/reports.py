"""Inventory reports per site and period, aggregated in the database.

Every report is a function ``(site, start, end, **options) -> Report`` issuing a
fixed number of queries however many items, moves or lots there are (grouped
``values().annotate()``, correlated subqueries, ``Case``/``When`` buckets, window
functions); Python only walks the already-aggregated rows (per item, per bucket).
Flows over time come from the daily rollup of the ledger (``StockDaily``, see
``inventory.stock_daily``: per site, item and UTC day, what crossed the site's
boundary and what was consumed), quantities now from ``StockLevel``: a year of
history is a few hundred rows per item, however many moves it had. Callers check
access: pages and the API pass a site the user may see and require the model
permission.

The items a flow report lists are those with stock now or with a flow across the
site's boundary since the period's start (a move between two of the site's own
locations is no flow).

Money is standard cost × quantity (``Item.standard_cost``): the plant's own
valuation, not a purchase-price ledger.
"""

from __future__ import annotations

from collections.abc import Callable

from inventory.analytics.base import Report
from inventory.analytics.exposure import AGE_BUCKETS, STOCKOUT_BLOCK_DAYS, count_accuracy, lot_ageing, stockouts
from inventory.analytics.flows import abc, slow_movers, stock_value, turnover

__all__ = [
    "AGE_BUCKETS",
    "REPORTS",
    "STOCKOUT_BLOCK_DAYS",
    "Report",
    "abc",
    "count_accuracy",
    "lot_ageing",
    "slow_movers",
    "stock_value",
    "stockouts",
    "turnover",
]

REPORTS: dict[str, tuple[str, Callable[..., Report]]] = {
    "stock-value": ("Stock value", stock_value),
    "turnover": ("Turnover and days of supply", turnover),
    "abc": ("ABC classification", abc),
    "slow-movers": ("Slow movers and dead stock", slow_movers),
    "stockouts": ("Stockout and under-reorder time", stockouts),
    "lot-ageing": ("Lot ageing and expiry exposure", lot_ageing),
    "count-accuracy": ("Cycle-count accuracy", count_accuracy),
}
