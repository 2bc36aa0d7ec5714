"""Reports over stock now and its flows: stock value, turnover, ABC, slow movers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum

from inventory.analytics.base import MONEY, ZERO, Report, _daily, _flows_since, _ids, _levels_now, _ratio, _window
from inventory.models import Item, StockLevel
from tracker.models import Site

# --- stock value -------------------------------------------------------------------------


NO_COST_NOTE = "Items without a standard cost have no value (“no cost set”), not a value of 0."


def _uncosted(rows: list[dict[str, Any]]) -> int:
    """Blank the value (and its share) of rows whose items all lack a standard cost; how many items lack one."""
    for r in rows:
        if r.pop("uncosted") == r["items"]:
            r["value"] = None
    return sum(1 for r in rows if r["value"] is None)


def stock_value(*, site: Site, start: dt.date, end: dt.date, group: str = "item", **_: Any) -> Report:
    """On hand at the site's real locations now, valued at standard cost, by item, kind or location. One query.

    By item each row has its quantity and unit; by kind or location a row counts its items instead, since
    pieces, kilograms and metres do not add up. A row whose items have no standard cost has no value (None),
    and the total is None when no item has one."""
    keys = {
        "item": ("item__sku", "item__name", "item__kind", "item__unit"),
        "kind": ("item__kind",),
        "location": ("location__code",),
    }
    fields = keys.get(group, keys["item"])
    value = ExpressionWrapper(F("on_hand") * F("item__standard_cost"), output_field=MONEY)
    rows = list(
        StockLevel.objects.filter(site=site, location__is_virtual=False)
        .exclude(on_hand=0)
        .values(*fields)
        .annotate(
            quantity=Sum("on_hand"),
            value=Sum(value),
            items=Count("item", distinct=True),
            uncosted=Count("item", filter=Q(item__standard_cost=0), distinct=True),
        )
        .order_by("-value", *fields)
    )
    missing = _uncosted(rows)
    costed = [r["value"] for r in rows if r["value"] is not None]
    total = sum(costed, ZERO) if costed else None
    for r in rows:
        r["share"] = _ratio(r["value"] * 100, total, "0.1") if r["value"] is not None and total else None
        r.pop("items" if group == "item" else "quantity")  # by kind or location: no sum across units
    columns = [(f, f.split("__")[-1].replace("_", " ").capitalize()) for f in fields if f != "item__unit"]
    columns += [("quantity", "On hand"), ("item__unit", "Unit")] if group == "item" else [("items", "Items")]
    columns += [("value", "Value"), ("share", "% of value")]
    notes = ["Quantities now; value at standard cost."]
    if missing:
        notes.append(f"{missing} row(s) without a standard cost. {NO_COST_NOTE}")
    return Report(
        "stock-value",
        f"Stock value by {group}",
        columns,
        rows,
        chart=(fields[0], "value"),
        summary={"total_value": total},
        notes=notes,
    )


# --- turnover and days of supply ------------------------------------------------------------


def turnover(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Per item: consumption (issues + shipments) in the period, average on hand
    ((level at start + level at end) / 2, rebuilt from today's level and the
    net flow across the site's boundary since), turnover and days of supply.
    Three queries (levels, flows since the start, the items concerned)."""
    days = Decimal((end - start).days + 1)
    on_hand = _levels_now(site)
    in_period, after_end = Q(day__lte=end), Q(day__gt=end)
    flows = _flows_since(
        site,
        start,
        inflow=Sum("inflow"),
        outflow=Sum("outflow"),
        consumed=Sum("consumed", filter=in_period),
        in_after_end=Sum("inflow", filter=after_end),
        out_after_end=Sum("outflow", filter=after_end),
    )
    ids = {pk for pk, q in on_hand.items() if q > 0} | set(flows)
    items = Item.objects.filter(pk__in=_ids(ids)).values("pk", "sku", "name", "standard_cost").order_by("sku")
    empty = {"inflow": ZERO, "outflow": ZERO, "consumed": ZERO, "in_after_end": ZERO, "out_after_end": ZERO}
    rows: list[dict[str, Any]] = []
    for it in items:
        f = flows.get(it["pk"], empty)
        now = on_hand.get(it["pk"], ZERO)
        at_start = now - f["inflow"] + f["outflow"]
        at_end = now - f["in_after_end"] + f["out_after_end"]
        average = (at_start + at_end) / 2
        daily = f["consumed"] / days
        rows.append(
            {
                "sku": it["sku"],
                "name": it["name"],
                "consumed": f["consumed"],
                "consumed_value": f["consumed"] * it["standard_cost"],
                "on_hand_start": at_start,
                "on_hand_end": at_end,
                "average_on_hand": average,
                "turnover": _ratio(f["consumed"], average),
                "days_of_supply": _ratio(now, daily, "0.1") if daily else None,
                "on_hand": now,
            }
        )
    rows.sort(key=lambda r: (r["turnover"] is None, -(r["turnover"] or 0), r["sku"]))
    return Report(
        "turnover",
        "Turnover and days of supply",
        [
            ("sku", "SKU"),
            ("name", "Name"),
            ("consumed", "Consumed"),
            ("consumed_value", "Consumed value"),
            ("on_hand_start", "On hand at start"),
            ("on_hand_end", "On hand at end"),
            ("average_on_hand", "Average"),
            ("turnover", "Turnover"),
            ("on_hand", "On hand now"),
            ("days_of_supply", "Days of supply"),
        ],
        rows,
        chart=("sku", "turnover"),
        notes=[
            "Turnover = consumption in the period / average on hand; days of supply = on hand now / average daily consumption.",
        ],
    )


# --- ABC ---------------------------------------------------------------------------------------


def abc(*, site: Site, start: dt.date, end: dt.date, a: int = 80, b: int = 95, **_: Any) -> Report:
    """Items by consumption value in the period; cumulative share A ≤ ``a`` %, B ≤ ``b`` %, else C. One query."""
    value = ExpressionWrapper(F("consumed") * F("item__standard_cost"), output_field=MONEY)
    rows = [
        {
            "item__sku": r["item__sku"],
            "item__name": r["item__name"],
            "item__unit": r["item__unit"],
            "value": r["value"] if r["item__standard_cost"] else None,
            "consumed": r["used"],
        }
        for r in _daily(site)
        .filter(day__range=(start, end), consumed__gt=0)
        .values("item__sku", "item__name", "item__unit", "item__standard_cost")
        .annotate(value=Sum(value), used=Sum("consumed"))
        .order_by("-value", "item__sku")
    ]
    missing = sum(1 for r in rows if r["value"] is None)
    total = sum((r["value"] for r in rows if r["value"] is not None), ZERO)
    running = ZERO
    for r in rows:
        if r["value"] is None or not total:
            # No cost, no class: an item's place in the ranking is unknown until its cost is set.
            r["cumulative_share"], r["class"] = None, None
            continue
        running += r["value"]
        r["cumulative_share"] = _ratio(running * 100, total, "0.1") or ZERO
        previous = (running - r["value"]) * 100 / total if total else ZERO
        # The class is decided by where the item starts, so the item crossing 80 % is still A.
        r["class"] = "A" if previous < a else ("B" if previous < b else "C")
    return Report(
        "abc",
        "ABC by consumption value",
        [
            ("item__sku", "SKU"),
            ("item__name", "Name"),
            ("consumed", "Consumed"),
            ("value", "Value"),
            ("cumulative_share", "Cumulative %"),
            ("class", "Class"),
        ],
        rows,
        chart=("item__sku", "value"),
        summary={"total_value": total if missing < len(rows) else None},
        notes=[f"A: the items making the first {a} % of consumption value, B: up to {b} %, C: the rest."]
        + ([f"{missing} item(s) without a standard cost, so without a class. {NO_COST_NOTE}"] if missing else []),
    )


# --- slow movers and dead stock -----------------------------------------------------------------


def slow_movers(*, site: Site, start: dt.date, end: dt.date, dead_days: int = 90, **_: Any) -> Report:
    """Items with stock whose last issue/shipment is older than ``dead_days`` (dead) or with
    less consumption in the period than a tenth of their stock (slow). Three queries: levels,
    consumption in the period (grouped), and the items with stock annotated with their last
    issue (their latest daily row with consumption, found backwards along the (site, item,
    day) index, however old)."""
    t1 = _window(start, end)[1]
    on_hand = {pk: q for pk, q in _levels_now(site).items() if q > 0}
    consumed = dict(
        _daily(site)
        .filter(day__range=(start, end), consumed__gt=0)
        .values("item_id")
        .annotate(s=Sum("consumed"))
        .values_list("item_id", "s")
    )
    last = _daily(site).filter(item=OuterRef("pk"), consumed__gt=0).order_by("-day", "-last_out_at")
    items = Item.objects.filter(pk__in=_ids(on_hand)).annotate(last_issue=Subquery(last.values("last_out_at")[:1]))
    cutoff = t1 - dt.timedelta(days=dead_days)
    rows = []
    for it in items.values("pk", "sku", "name", "standard_cost", "last_issue"):
        qty, last_issue, used = on_hand[it["pk"]], it["last_issue"], consumed.get(it["pk"], ZERO)
        dead = last_issue is None or last_issue < cutoff
        if not (dead or used * 10 < qty):
            continue
        rows.append(
            {
                "sku": it["sku"],
                "name": it["name"],
                "on_hand": qty,
                "value": qty * it["standard_cost"],
                "consumed": used,
                "last_issue": last_issue.date() if last_issue else None,
                "days_idle": (t1 - last_issue).days if last_issue else None,
                "status": "dead" if dead else "slow",
            }
        )
    rows.sort(key=lambda r: (r["last_issue"] or dt.date.min, r["sku"]))
    return Report(
        "slow-movers",
        f"Slow movers and dead stock (no issue for {dead_days} days)",
        [
            ("sku", "SKU"),
            ("name", "Name"),
            ("status", "Status"),
            ("on_hand", "On hand"),
            ("value", "Value"),
            ("consumed", "Consumed in period"),
            ("last_issue", "Last issue"),
            ("days_idle", "Days since"),
        ],
        rows,
        chart=("sku", "value"),
    )
