"""Reads of inventory. User-facing selectors take ``user`` first and start from
``.restrict(user, "view")``; the ``*_internal`` helpers and ``available_quantity``
/ ``fefo_lots`` are unscoped, for services and the device pipeline."""

from __future__ import annotations

from inventory.selectors.counts import count_approval_refusal
from inventory.selectors.ledger import ledger_differences
from inventory.selectors.replenishment import (
    expiring_lots,
    expiring_lots_internal,
    replenishment,
    replenishment_internal,
)
from inventory.selectors.stock import (
    QTY_FIELD,
    available_quantity,
    fefo_lots,
    item_levels_at_site,
    item_lots_at_site,
    items_for_user,
    items_with_stock,
    location_tree_with_totals,
    lots_for_user,
    moves_for_user,
    on_hand_series,
    serials_for_user,
    site_moves,
    stock_levels,
    traceable_serials,
)
from inventory.selectors.trace import (
    _SIDES,
    Direction,
    Genealogy,
    NodeKey,
    _check_trace_access,
    _move_row,
    _Tracer,
    genealogy_walk,
    trace_backward,
    trace_forward,
)
from inventory.selectors.transfers import in_transit_rows, missing_serial_rows

__all__ = [
    "count_approval_refusal",
    "in_transit_rows",
    "missing_serial_rows",
    "Direction",
    "Genealogy",
    "NodeKey",
    "QTY_FIELD",
    "_SIDES",
    "_Tracer",
    "_check_trace_access",
    "_move_row",
    "available_quantity",
    "expiring_lots",
    "expiring_lots_internal",
    "fefo_lots",
    "genealogy_walk",
    "item_levels_at_site",
    "item_lots_at_site",
    "items_for_user",
    "items_with_stock",
    "ledger_differences",
    "location_tree_with_totals",
    "lots_for_user",
    "moves_for_user",
    "on_hand_series",
    "replenishment",
    "replenishment_internal",
    "serials_for_user",
    "site_moves",
    "stock_levels",
    "trace_backward",
    "trace_forward",
    "traceable_serials",
]
