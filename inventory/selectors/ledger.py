"""The ledger invariant, checked from the moves."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from inventory import stock_daily
from inventory.locks import keeps_level
from inventory.models import ZERO, StockLevel, StockMove
from tracker.models import Location


def ledger_differences() -> list[dict[str, Any]]:
    """Every (item, location, lot) whose level differs from its ledger sum, every real level
    below zero where the item does not allow it, and every (site, item, day) where the reports'
    daily rollup differs from the ledger (``inventory.stock_daily``). Empty list: invariant holds."""
    sums: dict[tuple[int, int, int | None], Decimal] = defaultdict(lambda: ZERO)
    for into in StockMove.objects.order_by().values("item_id", "destination_id", "lot_id").annotate(q=Sum("quantity")):
        sums[(into["item_id"], into["destination_id"], into["lot_id"])] += into["q"]
    for out in StockMove.objects.order_by().values("item_id", "source_id", "lot_id").annotate(q=Sum("quantity")):
        sums[(out["item_id"], out["source_id"], out["lot_id"])] -= out["q"]
    locations = {loc.pk: loc for loc in Location.objects.all()}
    levels = {
        (lv.item_id, lv.location_id, lv.lot_id): lv for lv in StockLevel.objects.select_related("item").order_by()
    }
    problems = []
    for key in set(sums) | set(levels):
        location = locations[key[1]]
        if not keeps_level(location):
            if key in levels and levels[key].on_hand != 0:
                problems.append(
                    {"problem": "level_on_untracked_location", "key": key, "level": str(levels[key].on_hand)}
                )
            continue
        ledger = sums.get(key, ZERO)
        level = levels[key].on_hand if key in levels else ZERO
        if ledger != level:
            problems.append({"problem": "ledger_mismatch", "key": key, "ledger": str(ledger), "level": str(level)})
    for key, lv in levels.items():
        location = locations[key[1]]
        if not location.is_virtual and lv.on_hand < 0 and not lv.item.allow_negative:
            problems.append({"problem": "negative_level", "key": key, "level": str(lv.on_hand)})
    problems += stock_daily.differences()
    return sorted(problems, key=lambda p: (p["problem"], str(p["key"])))
