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

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce

from inventory.models import CycleCount, CycleCountLine, Item, StockDaily, StockLevel
from tracker.models import Location, Site

MONEY = DecimalField(max_digits=24, decimal_places=4)
QTYF = DecimalField(max_digits=18, decimal_places=4)
ZERO = Decimal("0")


@dataclass
class Report:
    """Rows of one report plus what the page, the exports and the chart need."""

    slug: str
    title: str
    columns: list[tuple[str, str]]  # (key, heading)
    rows: list[dict[str, Any]]
    chart: tuple[str, str] | None = None  # (label key, value key) for a bar chart of the first rows
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in UTC: the period includes its end date."""
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC),
    )


def _levels_now(site: Site) -> dict[int, Decimal]:
    """On hand per item at the site's real locations now (one grouped query)."""
    return dict(
        StockLevel.objects.filter(site=site, location__is_virtual=False)
        .order_by()
        .values("item_id")
        .annotate(s=Sum("on_hand"))
        .values_list("item_id", "s")
    )


def _daily(site: Site) -> QuerySet[StockDaily]:
    return StockDaily.objects.filter(site=site).order_by()


def _flows_since(site: Site, start: dt.date, **sums: Sum) -> dict[int, dict[str, Decimal]]:
    """Per item with a flow at the site since ``start`` (included): the ``sums`` (over the
    daily rollup's columns). One grouped query over the item's days since then."""
    # Aliased: an annotation may not take the name of the column it sums.
    rows = (
        _daily(site)
        .filter(day__gte=start)
        .values("item_id")
        .annotate(**{f"sum_{name}": Coalesce(agg, Value(ZERO), output_field=QTYF) for name, agg in sums.items()})
    )
    return {row["item_id"]: {name: row[f"sum_{name}"] for name in sums} for row in rows}


def _ids(ids) -> list[int]:
    """Ids for ``pk__in``; never empty, because Django skips the query for an empty list and the
    page's query count must not depend on the data (0 is no primary key)."""
    return list(ids) or [0]


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _ratio(a: Decimal, b: Decimal, places: str = "0.01") -> Decimal | None:
    return (a / b).quantize(Decimal(places)) if b else None


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
    rows = []
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


# --- stockout and under-reorder-point time -----------------------------------------------------------


def _days_between(earlier: str, later: str) -> str:
    """SQL for the whole days from one date expression to another."""
    if connection.vendor == "sqlite":  # dates are ISO text there
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


STOCKOUT_BLOCK_DAYS = 7
_AFTER = 999_999  # the block number of the days after the period


def _stockout_days(site: Site, start: dt.date, end: dt.date) -> dict[int, tuple[Decimal, dt.date | None, int, int]]:
    """Per item with a flow at the site since ``start``: (net flow since ``start``, first day with
    a flow in the period, days in the period from that day on whose end-of-day level is at or
    below zero, days under the item's reorder point). One query.

    The level at the end of a day is the level now minus the net flow of the later days. The
    period is cut in blocks of ``STOCKOUT_BLOCK_DAYS`` days: one grouped pass gives each block's
    net flow, outflow and first and last flow days, and a window over the blocks (newest first)
    the level after each block's last flow, which holds until the next block's first flow. Only
    a block whose level could dip under a threshold between its flows (level before its first
    flow minus all its outflow) is walked day by day; at a healthy site that is few blocks, so
    the cost is one grouped scan of the period's daily rows rather than a window over all of them.
    """
    q = connection.ops.quote_name
    daily, level, location, item = (q(m._meta.db_table) for m in (StockDaily, StockLevel, Location, Item))
    capped_next = "(CASE WHEN next_day IS NULL OR next_day > %(end)s THEN %(after)s ELSE next_day END)"
    sql = f"""
        WITH blocks AS (
            SELECT item_id,
                   CASE WHEN day > %(end)s THEN {_AFTER} ELSE {_days_between("%(start)s", "day")} / {STOCKOUT_BLOCK_DAYS} END
                       AS block,
                   SUM(inflow) - SUM(outflow) AS net, SUM(outflow) AS outflow, MIN(day) AS first_day, MAX(day) AS last_day
            FROM {daily} WHERE site_id = %(site)s AND day >= %(start)s GROUP BY 1, 2
        ), now AS (
            SELECT l.item_id, SUM(l.on_hand) AS on_hand FROM {level} l JOIN {location} loc ON loc.id = l.location_id
            WHERE l.site_id = %(site)s AND NOT loc.is_virtual GROUP BY l.item_id
        ), ends AS (
            SELECT b.item_id, b.block, b.net, b.first_day, b.last_day, i.reorder_point AS rp,
                   ROUND(COALESCE(n.on_hand, 0) - SUM(b.net) OVER later + b.net, 4) AS level,
                   ROUND(COALESCE(n.on_hand, 0) - SUM(b.net) OVER later - b.outflow, 4) AS low,
                   LAG(b.first_day) OVER later AS next_day
            FROM blocks b JOIN {item} i ON i.id = b.item_id LEFT JOIN now n ON n.item_id = b.item_id
            WINDOW later AS (PARTITION BY b.item_id ORDER BY b.block DESC ROWS UNBOUNDED PRECEDING)
        ), inside AS (
            SELECT d.item_id, e.rp, d.day, LEAD(d.day) OVER within AS next_day,
                   ROUND(e.level - e.net + SUM(d.inflow - d.outflow) OVER within, 4) AS level
            FROM ends e JOIN {daily} d
                ON d.site_id = %(site)s AND d.item_id = e.item_id AND d.day BETWEEN e.first_day AND e.last_day
            WHERE e.block < {_AFTER} AND e.first_day < e.last_day AND (e.low <= 0 OR e.low < e.rp)
            WINDOW within AS (PARTITION BY d.item_id, e.block ORDER BY d.day)
        ), parts AS (
            SELECT item_id, net AS since, CASE WHEN block < {_AFTER} THEN first_day END AS first_day,
                   CASE WHEN block < {_AFTER} AND level <= 0 THEN {_days_between("last_day", capped_next)} ELSE 0 END
                       AS out_days,
                   CASE WHEN block < {_AFTER} AND rp > 0 AND level < rp THEN {_days_between("last_day", capped_next)}
                       ELSE 0 END AS under_days
            FROM ends
            UNION ALL
            SELECT item_id, 0, NULL,
                   CASE WHEN level <= 0 THEN {_days_between("day", "next_day")} ELSE 0 END,
                   CASE WHEN rp > 0 AND level < rp THEN {_days_between("day", "next_day")} ELSE 0 END
            FROM inside WHERE next_day IS NOT NULL
        )
        SELECT item_id, ROUND(SUM(since), 4), MIN(first_day), SUM(out_days), SUM(under_days) FROM parts GROUP BY item_id
    """  # noqa: S608 (table names from the models; values are parameters)
    params = {"site": site.pk, "start": start, "end": end, "after": end + dt.timedelta(days=1)}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {
            pk: (_d(since), dt.date.fromisoformat(first) if isinstance(first, str) else first, int(out), int(under))
            for pk, since, first, out, under in cur.fetchall()
        }


def stockouts(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Per item: days in the period with no stock at the site, and days under its reorder point.

    End-of-day levels are what counts: from the level now and the daily net flows since
    the start, the database counts the days from each item's first flow in the period
    (``_stockout_days``); the days before it hold the level at the start, unless the item never
    had stock at the site before its first flow in the period: days before an item ever arrived
    are no stock-out. Three queries (levels, day counts, the items concerned with the day they
    first came in), whatever the period's length.
    """
    days_total = (end - start).days + 1
    on_hand = _levels_now(site)
    steps = _stockout_days(site, start, end)
    ids = {pk for pk, q in on_hand.items() if q > 0} | set(steps)
    first_in = StockDaily.objects.filter(site=site, item=OuterRef("pk"), inflow__gt=0).order_by("day").values("day")[:1]
    items = (
        Item.objects.filter(Q(pk__in=_ids(ids)) | Q(reorder_point__gt=0))
        .annotate(first_in=Subquery(first_in))
        .values("pk", "sku", "name", "reorder_point", "unit", "first_in")
    )
    rows = []
    for it in items.order_by("sku"):
        since, first_day, out_days, under_days = steps.get(it["pk"], (ZERO, None, 0, 0))
        at_start = on_hand.get(it["pk"], ZERO) - since
        held = ((first_day or end + dt.timedelta(days=1)) - start).days  # days at the start's level
        if it["first_in"] is None or it["first_in"] >= start:
            held = 0  # before the item ever came in: not a stock-out, not under its reorder point
        out_days += held if at_start <= 0 else 0
        under_days += held if 0 < it["reorder_point"] and at_start < it["reorder_point"] else 0
        if out_days or under_days:
            rows.append(
                {
                    "sku": it["sku"],
                    "name": it["name"],
                    "reorder_point": it["reorder_point"],
                    "unit": it["unit"],
                    "stockout_days": out_days,
                    "under_reorder_days": under_days,
                    "stockout_share": _ratio(Decimal(out_days * 100), Decimal(days_total), "0.1"),
                }
            )
    rows.sort(key=lambda r: (-r["stockout_days"], -r["under_reorder_days"], r["sku"]))
    return Report(
        "stockouts",
        "Stockout and under-reorder-point time",
        [
            ("sku", "SKU"),
            ("name", "Name"),
            ("reorder_point", "Reorder point"),
            ("stockout_days", "Days out of stock"),
            ("stockout_share", "% of period"),
            ("under_reorder_days", "Days under reorder point"),
        ],
        rows,
        chart=("sku", "stockout_days"),
        notes=["Counted on end-of-day levels (UTC days), from the day each item first came in."],
    )


# --- lot ageing and expiry exposure -----------------------------------------------------------------


AGE_BUCKETS = ((30, "0-30 d"), (90, "31-90 d"), (180, "91-180 d"))


def lot_ageing(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Lot stock at the site by age (since received or made) and by time to expiry, with value. One query."""
    today = end
    age = Case(
        *[
            When(lot__created_at__gte=_window(today - dt.timedelta(days=d), today)[0], then=Value(label))
            for d, label in AGE_BUCKETS
        ],
        default=Value("> 180 d"),
    )
    expiry = Case(
        When(lot__expiry_date__isnull=True, then=Value("no expiry")),
        When(lot__expiry_date__lt=today, then=Value("expired")),
        When(lot__expiry_date__lte=today + dt.timedelta(days=30), then=Value("≤ 30 d")),
        When(lot__expiry_date__lte=today + dt.timedelta(days=90), then=Value("31-90 d")),
        default=Value("> 90 d"),
    )
    value = ExpressionWrapper(F("on_hand") * F("item__standard_cost"), output_field=MONEY)
    rows = list(
        StockLevel.objects.filter(site=site, location__is_virtual=False, lot__isnull=False, on_hand__gt=0)
        .annotate(age_bucket=age, expiry_bucket=expiry)
        .values("age_bucket", "expiry_bucket")
        .annotate(lots=Count("lot", distinct=True), quantity=Sum("on_hand"), value=Sum(value))
        .order_by("expiry_bucket", "age_bucket")
    )
    order = {label: i for i, label in enumerate(["expired", "≤ 30 d", "31-90 d", "> 90 d", "no expiry"])}
    rows.sort(key=lambda r: (order.get(r["expiry_bucket"], 9), r["age_bucket"]))
    exposure = sum((r["value"] for r in rows if r["expiry_bucket"] in ("expired", "≤ 30 d")), ZERO)
    return Report(
        "lot-ageing",
        "Lot ageing and expiry exposure",
        [
            ("expiry_bucket", "Expires in"),
            ("age_bucket", "Age"),
            ("lots", "Lots"),
            ("quantity", "Quantity"),
            ("value", "Value"),
        ],
        rows,
        chart=("expiry_bucket", "value"),
        summary={"exposed_value": exposure},
        notes=[f"As of {today}. Exposure: value expired or expiring within 30 days."],
    )


# --- cycle-count accuracy ---------------------------------------------------------------------------------


def count_accuracy(*, site: Site, start: dt.date, end: dt.date, by: str = "item", **_: Any) -> Report:
    """Approved count lines in the period: lines, exact lines, accuracy, absolute variance
    (quantity and value) by item or location. One query."""
    t0, t1 = _window(start, end)
    key = ("item__sku", "item__name") if by != "location" else ("location__code",)
    variance = Abs(F("counted") - F("expected"))
    rows = list(
        CycleCountLine.objects.filter(
            count__site=site,
            count__status=CycleCount.Status.APPROVED,
            count__approved_at__gte=t0,
            count__approved_at__lt=t1,
            counted__isnull=False,
        )
        .values(*key)
        .annotate(
            lines=Count("pk"),
            exact=Count("pk", filter=Q(counted=F("expected"))),
            abs_variance=Sum(variance, output_field=QTYF),
            variance_value=Sum(ExpressionWrapper(variance * F("item__standard_cost"), output_field=MONEY)),
        )
        .order_by("-variance_value", *key)
    )
    for r in rows:
        r["accuracy"] = _ratio(Decimal(r["exact"] * 100), Decimal(r["lines"]), "0.1")
    lines = sum(r["lines"] for r in rows)
    exact = sum(r["exact"] for r in rows)
    columns = [(k, k.split("__")[-1].capitalize()) for k in key] + [
        ("lines", "Lines"),
        ("exact", "Exact"),
        ("accuracy", "Accuracy %"),
        ("abs_variance", "|Variance|"),
        ("variance_value", "Variance value"),
    ]
    return Report(
        "count-accuracy",
        f"Cycle-count accuracy by {by}",
        columns,
        rows,
        chart=(key[0], "variance_value"),
        summary={"accuracy": _ratio(Decimal(exact * 100), Decimal(lines), "0.1"), "lines": lines},
    )


REPORTS: dict[str, tuple[str, Callable[..., Report]]] = {
    "stock-value": ("Stock value", stock_value),
    "turnover": ("Turnover and days of supply", turnover),
    "abc": ("ABC classification", abc),
    "slow-movers": ("Slow movers and dead stock", slow_movers),
    "stockouts": ("Stockout and under-reorder time", stockouts),
    "lot-ageing": ("Lot ageing and expiry exposure", lot_ageing),
    "count-accuracy": ("Cycle-count accuracy", count_accuracy),
}
