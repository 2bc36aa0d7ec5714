"""Reports on exposure: stockout and under-reorder time, lot ageing and expiry, cycle-count accuracy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection, connections, router
from django.db.models import Case, Count, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Abs

from inventory.analytics.base import MONEY, QTYF, ZERO, Report, _d, _ids, _levels_now, _ratio, _window, report_rows
from inventory.models import CycleCount, CycleCountLine, Item, StockDaily, StockLevel
from tracker.models import Location, Site

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
    params: dict[str, Any] = {"site": site.pk, "start": start, "end": end, "after": end + dt.timedelta(days=1)}
    # Raw SQL names no model: ask the router, so a report in reading_from_replica() reads the replica.
    with connections[router.db_for_read(StockDaily)].cursor() as cur:
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
    rows: list[dict[str, Any]] = []
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
    rows = report_rows(
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
