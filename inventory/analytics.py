"""Inventory reports per site and period, aggregated in the database.

Every report is a function ``(site, start, end, **options) -> Report`` issuing a
fixed number of queries however many items, moves or lots there are (grouped
``values().annotate()``, correlated subqueries, ``Case``/``When`` buckets,
``TruncDate``); Python only walks the already-aggregated rows (per item, per
day with moves, per bucket). Callers check access: pages and the API pass a
site the user may see and require the model permission.

Money is standard cost × quantity (``Item.standard_cost``): the plant's own
valuation, not a purchase-price ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce, TruncDate

from inventory.models import CycleCount, CycleCountLine, Item, StockLevel, StockMove
from tracker.models import Site

MONEY = DecimalField(max_digits=24, decimal_places=4)
QTYF = DecimalField(max_digits=18, decimal_places=4)
ZERO = Decimal("0")
OUT_KINDS = (StockMove.Kind.ISSUE, StockMove.Kind.SHIP)


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
    return (dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC))


def _real_at(site: Site, prefix: str) -> Q:
    return Q(**{f"{prefix}__site": site, f"{prefix}__is_virtual": False})


def _inflow(site: Site) -> Q:
    """Moves that bring stock into the site's real locations from outside them."""
    return _real_at(site, "destination") & ~_real_at(site, "source")


def _outflow(site: Site) -> Q:
    return _real_at(site, "source") & ~_real_at(site, "destination")


def _sum_sub(qs, field_name: str = "quantity") -> Subquery:
    return Subquery(qs.values("item").annotate(s=Sum(field_name)).values("s")[:1], output_field=QTYF)


def _on_hand_sub(site: Site) -> Coalesce:
    levels = StockLevel.objects.filter(item=OuterRef("pk"), site=site, location__is_virtual=False).order_by()
    return Coalesce(_sum_sub(levels, "on_hand"), Value(ZERO), output_field=QTYF)


def _moves_sub(site: Site, q: Q) -> Coalesce:
    moves = StockMove.objects.filter(q, item=OuterRef("pk")).order_by()
    return Coalesce(_sum_sub(moves), Value(ZERO), output_field=QTYF)


def _levels_now(site: Site) -> dict[int, Decimal]:
    """On hand per item at the site's real locations now (one grouped query)."""
    return dict(
        StockLevel.objects.filter(site=site, location__is_virtual=False).order_by()
        .values("item_id").annotate(s=Sum("on_hand")).values_list("item_id", "s")
    )


def _flows_since(site: Site, since: dt.datetime, *, extra: dict[str, Q] | None = None) -> dict[int, dict[str, Decimal]]:
    """Per item, over the moves since ``since`` touching the site: quantity into and out of
    its real locations (``inflow``/``outflow``) and any ``extra`` conditional sums. One
    grouped query: a single range scan of the ledger since ``since``, whatever the items."""
    sums = {"inflow": _inflow(site), "outflow": _outflow(site), **(extra or {})}
    rows = (
        StockMove.objects.filter(occurred_at__gte=since).filter(Q(source__site=site) | Q(destination__site=site))
        .order_by().values("item_id")
        .annotate(**{name: Coalesce(Sum("quantity", filter=q), Value(ZERO), output_field=QTYF) for name, q in sums.items()})
    )
    return {row.pop("item_id"): row for row in rows}


def _ids(ids) -> list[int]:
    """Ids for ``pk__in``; never empty, because Django skips the query for an empty list and the
    page's query count must not depend on the data (0 is no primary key)."""
    return list(ids) or [0]


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _ratio(a: Decimal, b: Decimal, places: str = "0.01") -> Decimal | None:
    return (a / b).quantize(Decimal(places)) if b else None


# --- stock value -------------------------------------------------------------------------


def stock_value(*, site: Site, start: dt.date, end: dt.date, group: str = "item", **_: Any) -> Report:
    """On hand at the site's real locations now, valued at standard cost, by item, kind or location. One query."""
    keys = {"item": ("item__sku", "item__name", "item__kind"), "kind": ("item__kind",), "location": ("location__code",)}
    fields = keys.get(group, keys["item"])
    value = ExpressionWrapper(F("on_hand") * F("item__standard_cost"), output_field=MONEY)
    rows = list(
        StockLevel.objects.filter(site=site, location__is_virtual=False).exclude(on_hand=0)
        .values(*fields).annotate(quantity=Sum("on_hand"), value=Sum(value)).order_by("-value", *fields)
    )
    total = sum((r["value"] for r in rows), ZERO)
    for r in rows:
        r["share"] = _ratio(r["value"] * 100, total, "0.1")
    columns = [(f, f.split("__")[-1].replace("_", " ").capitalize()) for f in fields]
    columns += [("quantity", "On hand"), ("value", "Value"), ("share", "% of value")]
    return Report("stock-value", f"Stock value by {group}", columns, rows, chart=(fields[0], "value"),
                  summary={"total_value": total}, notes=["Quantities now; value at standard cost."])


# --- turnover and days of supply ------------------------------------------------------------


def turnover(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Per item: consumption (issues + shipments) in the period, average on hand
    ((level at start + level at end) / 2, rebuilt from today's level and the
    net flow across the site's boundary since), turnover and days of supply.
    Three queries (levels, flows since the start, the items concerned)."""
    t0, t1 = _window(start, end)
    days = Decimal((end - start).days + 1)
    on_hand = _levels_now(site)
    flows = _flows_since(site, t0, extra={
        "consumed": Q(kind__in=OUT_KINDS, source__site=site, occurred_at__lt=t1),
        "in_after_end": _inflow(site) & Q(occurred_at__gte=t1),
        "out_after_end": _outflow(site) & Q(occurred_at__gte=t1),
    })
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
        rows.append({
            "sku": it["sku"], "name": it["name"], "consumed": f["consumed"],
            "consumed_value": f["consumed"] * it["standard_cost"], "on_hand_start": at_start, "on_hand_end": at_end,
            "average_on_hand": average, "turnover": _ratio(f["consumed"], average),
            "days_of_supply": _ratio(now, daily, "0.1") if daily else None, "on_hand": now,
        })
    rows.sort(key=lambda r: (r["turnover"] is None, -(r["turnover"] or 0), r["sku"]))
    return Report("turnover", "Turnover and days of supply", [
        ("sku", "SKU"), ("name", "Name"), ("consumed", "Consumed"), ("consumed_value", "Consumed value"),
        ("on_hand_start", "On hand at start"), ("on_hand_end", "On hand at end"), ("average_on_hand", "Average"),
        ("turnover", "Turnover"), ("on_hand", "On hand now"), ("days_of_supply", "Days of supply"),
    ], rows, chart=("sku", "turnover"), notes=[
        "Turnover = consumption in the period / average on hand; days of supply = on hand now / average daily consumption.",
    ])


# --- ABC ---------------------------------------------------------------------------------------


def abc(*, site: Site, start: dt.date, end: dt.date, a: int = 80, b: int = 95, **_: Any) -> Report:
    """Items by consumption value in the period; cumulative share A ≤ ``a`` %, B ≤ ``b`` %, else C. One query."""
    t0, t1 = _window(start, end)
    value = ExpressionWrapper(F("quantity") * F("item__standard_cost"), output_field=MONEY)
    rows = list(
        StockMove.objects.filter(kind__in=OUT_KINDS, source__site=site, occurred_at__gte=t0, occurred_at__lt=t1)
        .values("item__sku", "item__name").annotate(value=Sum(value), consumed=Sum("quantity"))
        .order_by("-value", "item__sku")
    )
    total = sum((r["value"] for r in rows), ZERO)
    running = ZERO
    for r in rows:
        running += r["value"]
        r["cumulative_share"] = _ratio(running * 100, total, "0.1") or ZERO
        previous = (running - r["value"]) * 100 / total if total else ZERO
        # The class is decided by where the item starts, so the item crossing 80 % is still A.
        r["class"] = "A" if previous < a else ("B" if previous < b else "C")
    return Report("abc", "ABC by consumption value", [
        ("item__sku", "SKU"), ("item__name", "Name"), ("consumed", "Consumed"), ("value", "Value"),
        ("cumulative_share", "Cumulative %"), ("class", "Class"),
    ], rows, chart=("item__sku", "value"), summary={"total_value": total},
        notes=[f"A: the items making the first {a} % of consumption value, B: up to {b} %, C: the rest."])


# --- slow movers and dead stock -----------------------------------------------------------------


def slow_movers(*, site: Site, start: dt.date, end: dt.date, dead_days: int = 90, **_: Any) -> Report:
    """Items with stock whose last issue/shipment is older than ``dead_days`` (dead) or with
    less consumption in the period than a tenth of their stock (slow). Four grouped queries."""
    t0, t1 = _window(start, end)
    on_hand = {pk: q for pk, q in _levels_now(site).items() if q > 0}
    out = StockMove.objects.filter(kind__in=OUT_KINDS, source__site=site).order_by().values("item_id")
    last = dict(out.annotate(m=Max("occurred_at")).values_list("item_id", "m"))
    consumed = dict(out.filter(occurred_at__gte=t0, occurred_at__lt=t1).annotate(q=Sum("quantity"))
                    .values_list("item_id", "q"))
    cutoff = t1 - dt.timedelta(days=dead_days)
    rows = []
    for it in Item.objects.filter(pk__in=_ids(on_hand)).values("pk", "sku", "name", "standard_cost"):
        qty, last_issue, used = on_hand[it["pk"]], last.get(it["pk"]), consumed.get(it["pk"], ZERO)
        dead = last_issue is None or last_issue < cutoff
        if not (dead or used * 10 < qty):
            continue
        rows.append({
            "sku": it["sku"], "name": it["name"], "on_hand": qty, "value": qty * it["standard_cost"], "consumed": used,
            "last_issue": last_issue.date() if last_issue else None,
            "days_idle": (t1 - last_issue).days if last_issue else None, "status": "dead" if dead else "slow",
        })
    rows.sort(key=lambda r: (r["last_issue"] or dt.date.min, r["sku"]))
    return Report("slow-movers", f"Slow movers and dead stock (no issue for {dead_days} days)", [
        ("sku", "SKU"), ("name", "Name"), ("status", "Status"), ("on_hand", "On hand"), ("value", "Value"),
        ("consumed", "Consumed in period"), ("last_issue", "Last issue"), ("days_idle", "Days since"),
    ], rows, chart=("sku", "value"))


# --- stockout and under-reorder-point time -----------------------------------------------------------


def stockouts(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Per item: days in the period with no stock at the site, and days under its reorder point.

    The level at the start of the period is rebuilt in the database; then the
    daily net flows (one row per item and day *with moves*, grouped by
    ``TruncDate``) step it forward: a level holds from one move day to the
    next. End-of-day levels are what counts. Two queries.
    """
    t0, t1 = _window(start, end)
    days_total = (end - start).days + 1
    on_hand = _levels_now(site)
    since = _flows_since(site, t0)
    ids = {pk for pk, q in on_hand.items() if q > 0} | set(since)
    items = {
        it["pk"]: it for it in Item.objects.filter(Q(pk__in=_ids(ids)) | Q(reorder_point__gt=0))
        .values("pk", "sku", "name", "reorder_point")
    }
    flows: dict[int, dict[dt.date, Decimal]] = defaultdict(dict)
    daily = (
        StockMove.objects.filter(occurred_at__gte=t0, occurred_at__lt=t1)
        .filter(Q(source__site=site) | Q(destination__site=site)).order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC)).values("item_id", "day")
        .annotate(inflow=Coalesce(Sum("quantity", filter=_inflow(site)), Value(ZERO), output_field=QTYF),
                  outflow=Coalesce(Sum("quantity", filter=_outflow(site)), Value(ZERO), output_field=QTYF))
    )
    for row in daily:
        flows[row["item_id"]][row["day"]] = row["inflow"] - row["outflow"]
    rows = []
    for pk, it in sorted(items.items(), key=lambda kv: kv[1]["sku"]):
        f = since.get(pk, {"inflow": ZERO, "outflow": ZERO})
        level = on_hand.get(pk, ZERO) - f["inflow"] + f["outflow"]
        out_days = under_days = 0
        day = start
        changes = flows.get(pk, {})
        while day <= end:  # bounded by the period's days, not by the ledger's size
            level += changes.get(day, ZERO)
            out_days += level <= 0
            under_days += it["reorder_point"] > 0 and level < it["reorder_point"]
            day += dt.timedelta(days=1)
        if out_days or under_days:
            rows.append({"sku": it["sku"], "name": it["name"], "reorder_point": it["reorder_point"],
                         "stockout_days": out_days, "under_reorder_days": under_days,
                         "stockout_share": _ratio(Decimal(out_days * 100), Decimal(days_total), "0.1")})
    rows.sort(key=lambda r: (-r["stockout_days"], -r["under_reorder_days"], r["sku"]))
    return Report("stockouts", "Stockout and under-reorder-point time", [
        ("sku", "SKU"), ("name", "Name"), ("reorder_point", "Reorder point"), ("stockout_days", "Days out of stock"),
        ("stockout_share", "% of period"), ("under_reorder_days", "Days under reorder point"),
    ], rows, chart=("sku", "stockout_days"), notes=["Counted on end-of-day levels (UTC days)."])


# --- lot ageing and expiry exposure -----------------------------------------------------------------


AGE_BUCKETS = ((30, "0-30 d"), (90, "31-90 d"), (180, "91-180 d"))


def lot_ageing(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Lot stock at the site by age (since received or made) and by time to expiry, with value. One query."""
    today = end
    age = Case(
        *[When(lot__created_at__gte=_window(today - dt.timedelta(days=d), today)[0], then=Value(label))
          for d, label in AGE_BUCKETS],
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
    return Report("lot-ageing", "Lot ageing and expiry exposure", [
        ("expiry_bucket", "Expires in"), ("age_bucket", "Age"), ("lots", "Lots"), ("quantity", "Quantity"),
        ("value", "Value"),
    ], rows, chart=("expiry_bucket", "value"), summary={"exposed_value": exposure},
        notes=[f"As of {today}. Exposure: value expired or expiring within 30 days."])


# --- cycle-count accuracy ---------------------------------------------------------------------------------


def count_accuracy(*, site: Site, start: dt.date, end: dt.date, by: str = "item", **_: Any) -> Report:
    """Approved count lines in the period: lines, exact lines, accuracy, absolute variance
    (quantity and value) by item or location. One query."""
    t0, t1 = _window(start, end)
    key = ("item__sku", "item__name") if by != "location" else ("location__code",)
    variance = Abs(F("counted") - F("expected"))
    rows = list(
        CycleCountLine.objects.filter(count__site=site, count__status=CycleCount.Status.APPROVED,
                                      count__approved_at__gte=t0, count__approved_at__lt=t1, counted__isnull=False)
        .values(*key)
        .annotate(
            lines=Count("pk"), exact=Count("pk", filter=Q(counted=F("expected"))),
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
        ("lines", "Lines"), ("exact", "Exact"), ("accuracy", "Accuracy %"), ("abs_variance", "|Variance|"),
        ("variance_value", "Variance value")]
    return Report("count-accuracy", f"Cycle-count accuracy by {by}", columns, rows, chart=(key[0], "variance_value"),
                  summary={"accuracy": _ratio(Decimal(exact * 100), Decimal(lines), "0.1"), "lines": lines})


REPORTS: dict[str, tuple[str, Callable[..., Report]]] = {
    "stock-value": ("Stock value", stock_value),
    "turnover": ("Turnover and days of supply", turnover),
    "abc": ("ABC classification", abc),
    "slow-movers": ("Slow movers and dead stock", slow_movers),
    "stockouts": ("Stockout and under-reorder time", stockouts),
    "lot-ageing": ("Lot ageing and expiry exposure", lot_ageing),
    "count-accuracy": ("Cycle-count accuracy", count_accuracy),
}
