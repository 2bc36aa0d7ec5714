"""Reads of inventory. User-facing selectors take ``user`` first and start from
``.restrict(user, "view")``; the ``*_internal`` helpers and ``available_quantity``
/ ``fefo_lots`` are unscoped, for services and the device pipeline."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import (
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
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from inventory import stock_daily
from inventory.locks import keeps_level
from inventory.models import (
    QTY,
    ZERO,
    GenealogyLink,
    Item,
    Lot,
    SerialUnit,
    StockLevel,
    StockMove,
    StockReservation,
)
from tracker.models import Location, Site
from tracker.scoping import has_model_permission

QTY_FIELD = DecimalField(**QTY)


# --- levels ------------------------------------------------------------------------


def stock_levels(
    *,
    user: Any,
    item: Item | None = None,
    location: Location | None = None,
    site: Site | None = None,
    lot: Lot | None = None,
    within: Location | None = None,
) -> QuerySet[StockLevel]:
    """Levels the user may see (real and in-transit locations), filtered; ready to serialise."""
    qs = (
        StockLevel.objects.restrict(user, "view")
        .select_related("item", "location", "lot", "site")
        .order_by("location__path", "item__sku", "lot__code")
    )
    if item is not None:
        qs = qs.filter(item=item)
    if location is not None:
        qs = qs.filter(location=location)
    if site is not None:
        qs = qs.filter(site=site)
    if lot is not None:
        qs = qs.filter(lot=lot)
    if within is not None:
        qs = qs.in_subtree(within)
    return qs


def available_quantity(*, item: Item, site: Site | int, lot: Lot | None = None) -> Decimal:
    """On hand at the site's real locations minus its open reservations (unscoped)."""
    from inventory.services import site_available

    return site_available(item=item, site_id=site if isinstance(site, int) else site.pk, lot=lot)


def fefo_lots(*, item: Item, location_or_site: Location | Site, quantity: Decimal) -> list[tuple[Lot, Decimal]]:
    """First-expiry-first-out picking suggestion: usable lots and how much of each.

    Returns as much as there is (the list may cover less than ``quantity``).
    Expired, held, quarantined and recalled lots are skipped.
    """
    levels = StockLevel.objects.filter(item=item, lot__isnull=False, on_hand__gt=0).select_related("lot")
    if isinstance(location_or_site, Location):
        levels = levels.filter(location=location_or_site)
    else:
        levels = levels.filter(site=location_or_site, location__is_virtual=False)
    per_lot: dict[int, Decimal] = defaultdict(lambda: ZERO)
    lots: dict[int, Lot] = {}
    for level in levels:
        if level.lot.status in Lot.BLOCKED or level.lot.is_expired():
            continue
        per_lot[level.lot_id] += level.on_hand
        lots[level.lot_id] = level.lot
    order = sorted(lots.values(), key=lambda lt: (lt.expiry_date or dt.date.max, lt.created_at, lt.pk))
    picks, remaining = [], Decimal(quantity)
    for lot in order:
        if remaining <= 0:
            break
        take = min(per_lot[lot.pk], remaining)
        picks.append((lot, take))
        remaining -= take
    return picks


# --- items, lots, moves --------------------------------------------------------------


def items_for_user(*, user: Any) -> QuerySet[Item]:
    return Item.objects.restrict(user, "view").order_by("sku")


def lots_for_user(*, user: Any) -> QuerySet[Lot]:
    return Lot.objects.restrict(user, "view").select_related("item", "site").order_by("item__sku", "code")


def serials_for_user(*, user: Any) -> QuerySet[SerialUnit]:
    return (
        SerialUnit.objects.restrict(user, "view")
        .select_related("item", "lot", "location")
        .order_by("item__sku", "serial")
    )


def traceable_serials(*, user: Any) -> QuerySet[SerialUnit]:
    """Serial units ``user`` may trace: one whose location is at one of their sites,
    whose lot they may see (made, received or stocked there), or that moved through
    one of their sites (a move with either end there).

    The location alone is not enough: a unit consumed into an assembly or shipped
    sits in a virtual location of the site that consumed or shipped it, and a unit
    transferred away sits at the other site, yet the sites it passed through keep
    its history. Anything else is "no such serial", as a missing one.
    """
    if not has_model_permission(user, SerialUnit, "view"):
        return SerialUnit.objects.none()
    here = SerialUnit.objects.restrict(user, "view").values("pk")
    lots = Lot.objects.restrict(user, "view").values("pk")
    moved = StockMove.objects.restrict(user, "view").filter(serial__isnull=False).values("serial_id")
    return SerialUnit.objects.filter(Q(pk__in=here) | Q(lot__in=lots) | Q(pk__in=moved))


def moves_for_user(*, user: Any) -> QuerySet[StockMove]:
    return StockMove.objects.restrict(user, "view").select_related(
        "item", "source", "destination", "lot", "serial", "actor"
    )


def item_levels_at_site(*, user: Any, item: Item, site: Site) -> QuerySet[StockLevel]:
    return stock_levels(user=user, item=item, site=site).exclude(on_hand=0, reserved=0)


def on_hand_series(*, item: Item, site: Site, days: int = 90) -> list[tuple[dt.date, Decimal]]:
    """Daily on hand of ``item`` at the site's real locations for the last ``days`` days.

    Walks back from today's level by the daily net flow across the site's
    boundary (moves inside the site net to zero): two grouped queries.
    """
    today = timezone.localdate()
    start = today - dt.timedelta(days=days)
    current = (
        StockLevel.objects.filter(item=item, site=site, location__is_virtual=False).aggregate(s=Sum("on_hand"))["s"]
        or ZERO
    )
    real_ids = Location.objects.filter(site=site, is_virtual=False).values("pk")
    base = StockMove.objects.filter(item=item, occurred_at__date__gt=start)
    inflow = (
        base.filter(destination_id__in=real_ids)
        .exclude(source_id__in=real_ids)
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(q=Sum("quantity"))
    )
    outflow = (
        base.filter(source_id__in=real_ids)
        .exclude(destination_id__in=real_ids)
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(q=Sum("quantity"))
    )
    net: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for row in inflow:
        net[row["day"]] += row["q"]
    for row in outflow:
        net[row["day"]] -= row["q"]
    series = []
    level = current
    day = today
    while day > start:
        series.append((day, level))
        level -= net.get(day, ZERO)
        day -= dt.timedelta(days=1)
    series.reverse()
    return series


# --- replenishment and expiry ----------------------------------------------------------


def replenishment_internal(*, site: Site) -> list[dict[str, Any]]:
    """Items at ``site`` under their reorder point (or safety stock), with how much to order.

    Order quantity: up to ``max_stock`` when set, else ``reorder_quantity``,
    and never less than what brings availability back to the reorder point.
    One query.
    """
    on_hand = (
        StockLevel.objects.filter(item=OuterRef("pk"), site=site, location__is_virtual=False)
        .values("item")
        .annotate(s=Sum("on_hand"))
        .values("s")
    )
    reserved = (
        StockReservation.objects.filter(item=OuterRef("pk"), site=site, status=StockReservation.Status.OPEN)
        .values("item")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    items = (
        Item.objects.filter(active=True)
        .filter(Q(reorder_point__gt=0) | Q(safety_stock__gt=0))
        .annotate(
            on_hand_total=Coalesce(Subquery(on_hand, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
            reserved_total=Coalesce(Subquery(reserved, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
        )
        .order_by("sku")
    )
    rows = []
    for item in items:
        available = item.on_hand_total - item.reserved_total
        threshold = max(item.reorder_point, item.safety_stock)
        if available >= threshold:
            continue
        if item.max_stock:
            order = item.max_stock - available
        else:
            order = max(item.reorder_quantity, threshold - available)
        if item.is_discrete:
            order = order.to_integral_value(rounding="ROUND_CEILING")
        rows.append(
            {
                "item": item,
                "sku": item.sku,
                "name": item.name,
                "unit": item.unit,
                "on_hand": item.on_hand_total,
                "reserved": item.reserved_total,
                "available": available,
                "reorder_point": item.reorder_point,
                "safety_stock": item.safety_stock,
                "order_quantity": order,
                "lead_time_days": item.lead_time_days,
                "below_safety": available < item.safety_stock,
                "order_by": timezone.localdate(),
            }
        )
    return rows


def replenishment(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """``replenishment_internal`` for a site the user may see (empty otherwise)."""
    if not Site.objects.restrict(user, "view").filter(pk=site.pk).exists():
        return []
    from tracker.scoping import has_model_permission

    if not (getattr(user, "is_superuser", False) or has_model_permission(user, StockLevel, "view")):
        return []
    return replenishment_internal(site=site)


def expiring_lots_internal(*, site: Site, days: int = 30) -> QuerySet:
    """Lots with stock at the site's real locations expiring within ``days`` (or expired)."""
    horizon = timezone.localdate() + dt.timedelta(days=days)
    return (
        StockLevel.objects.filter(site=site, location__is_virtual=False, on_hand__gt=0, lot__expiry_date__lte=horizon)
        .values("lot_id", "lot__code", "lot__status", "lot__expiry_date", "item__sku", "item__name", "item__unit")
        .annotate(on_hand=Sum("on_hand"))
        .order_by("lot__expiry_date", "item__sku", "lot__code")
    )


def expiring_lots(*, user: Any, site: Site, days: int = 30) -> QuerySet:
    levels = StockLevel.objects.restrict(user, "view").filter(site=site)
    return expiring_lots_internal(site=site, days=days).filter(pk__in=levels.values("pk"))


# --- traceability ------------------------------------------------------------------------


def _move_row(move: StockMove) -> dict[str, Any]:
    return {
        "kind": move.kind,
        "reference": move.reference,
        "reference_type": move.reference_type,
        "partner": move.partner,
        "quantity": str(move.quantity),
        "occurred_at": move.occurred_at.isoformat(),
        "from": move.source.code,
        "to": move.destination.code,
        "serial": move.serial.serial if move.serial_id else None,
    }


class _Tracer:
    """Walks genealogy links; each node lists its relevant moves. Bounded depth, no cycles."""

    MAX_DEPTH = 20

    def __init__(self, user: Any):
        self.user = user
        self.visible_sites = None
        if not getattr(user, "is_superuser", False):
            from tracker.scoping import granted_site_ids

            self.visible_sites = set(granted_site_ids(user))

    def _moves(self, *, lot: Lot | None, serial: SerialUnit | None, kinds: list[str]) -> list[dict[str, Any]]:
        query = StockMove.objects.filter(kind__in=kinds).select_related("source", "destination", "serial")
        if serial is not None:
            query = query.filter(serial=serial)
        else:
            query = query.filter(lot=lot)
        if self.visible_sites is not None:
            query = query.filter(
                Q(source__site_id__in=self.visible_sites) | Q(destination__site_id__in=self.visible_sites)
            )
        return [_move_row(m) for m in query.order_by("occurred_at", "pk")[:200]]

    def _node(self, *, item: Item, lot: Lot | None, serial: SerialUnit | None) -> dict[str, Any]:
        node = {
            "type": "serial" if serial else "lot",
            "item": item.sku,
            "item_name": item.name,
            "lot": lot.code if lot else None,
            "serial": serial.serial if serial else None,
        }
        if lot is not None:
            node["lot_status"] = lot.status
            node["expiry_date"] = lot.expiry_date.isoformat() if lot.expiry_date else None
        if serial is not None:
            node["serial_status"] = serial.status
        return node

    def backward(self, *, lot: Lot | None, serial: SerialUnit | None, depth: int = 0, seen=None) -> dict[str, Any]:
        seen = seen if seen is not None else set()
        item = serial.item if serial else lot.item
        node = self._node(item=item, lot=lot, serial=serial)
        node["receipts"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.RECEIPT])
        node["produced"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.PRODUCE])
        node["inputs"] = []
        key = ("s", serial.pk) if serial else ("l", lot.pk)
        if key in seen or depth >= self.MAX_DEPTH:
            return node
        seen.add(key)
        cond = Q(output_serial=serial) if serial else Q(output_lot=lot, output_serial__isnull=True)
        if serial is not None and serial.lot_id:
            cond |= Q(output_lot_id=serial.lot_id, output_serial__isnull=True)
        links = GenealogyLink.objects.filter(cond).select_related(
            "input_item", "input_lot", "input_serial__item", "input_serial__lot"
        )
        for link in links.order_by("pk"):
            child = (
                self.backward(lot=link.input_lot, serial=link.input_serial, depth=depth + 1, seen=seen)
                if (link.input_serial or link.input_lot)
                else None
            )
            if child is not None:
                child["quantity"] = str(link.quantity) if link.quantity is not None else None
                child["work_order"] = link.reference
                node["inputs"].append(child)
        return node

    def forward(self, *, lot: Lot | None, serial: SerialUnit | None, depth: int = 0, seen=None) -> dict[str, Any]:
        seen = seen if seen is not None else set()
        item = serial.item if serial else lot.item
        node = self._node(item=item, lot=lot, serial=serial)
        node["consumed"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.ISSUE])
        node["shipments"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.SHIP])
        node["outputs"] = []
        key = ("s", serial.pk) if serial else ("l", lot.pk)
        if key in seen or depth >= self.MAX_DEPTH:
            return node
        seen.add(key)
        cond = Q(input_serial=serial) if serial else Q(input_lot=lot, input_serial__isnull=True)
        if serial is not None and serial.lot_id:
            cond |= Q(input_lot_id=serial.lot_id, input_serial__isnull=True)
        links = GenealogyLink.objects.filter(cond).select_related(
            "output_item", "output_lot", "output_serial__item", "output_serial__lot"
        )
        for link in links.order_by("pk"):
            child = self.forward(
                lot=link.output_lot if not link.output_serial else link.output_serial.lot,
                serial=link.output_serial,
                depth=depth + 1,
                seen=seen,
            )
            child["work_order"] = link.reference
            node["outputs"].append(child)
        return node


def _check_trace_access(user: Any, lot: Lot | None, serial: SerialUnit | None) -> None:
    from tracker.errors import NotFound

    if lot is None and serial is None:
        raise NotFound("Name a lot or a serial to trace.")
    if serial is not None:
        ok = traceable_serials(user=user).filter(pk=serial.pk).exists()
    else:
        ok = Lot.objects.restrict(user, "view").filter(pk=lot.pk).exists()
    if not ok:
        raise NotFound("No such lot or serial.")


def trace_backward(*, user: Any, lot: Lot | None = None, serial: SerialUnit | None = None) -> dict[str, Any]:
    """What went into this lot/serial, level by level, with its receipts (supplier, PO)."""
    _check_trace_access(user, lot, serial)
    return _Tracer(user).backward(lot=lot, serial=serial)


def trace_forward(*, user: Any, lot: Lot | None = None, serial: SerialUnit | None = None) -> dict[str, Any]:
    """Where this lot/serial went: work orders consuming it, outputs containing it, shipments."""
    _check_trace_access(user, lot, serial)
    return _Tracer(user).forward(lot=lot, serial=serial)


# --- the ledger invariant ---------------------------------------------------------------


def ledger_differences() -> list[dict[str, Any]]:
    """Every (item, location, lot) whose level differs from its ledger sum, every real level
    below zero where the item does not allow it, and every (site, item, day) where the reports'
    daily rollup differs from the ledger (``inventory.stock_daily``). Empty list: invariant holds."""
    sums: dict[tuple[int, int, int | None], Decimal] = defaultdict(lambda: ZERO)
    for row in StockMove.objects.order_by().values("item_id", "destination_id", "lot_id").annotate(q=Sum("quantity")):
        sums[(row["item_id"], row["destination_id"], row["lot_id"])] += row["q"]
    for row in StockMove.objects.order_by().values("item_id", "source_id", "lot_id").annotate(q=Sum("quantity")):
        sums[(row["item_id"], row["source_id"], row["lot_id"])] -= row["q"]
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
    for key, level in levels.items():
        location = locations[key[1]]
        if not location.is_virtual and level.on_hand < 0 and not level.item.allow_negative:
            problems.append({"problem": "negative_level", "key": key, "level": str(level.on_hand)})
    problems += stock_daily.differences()
    return sorted(problems, key=lambda p: (p["problem"], str(p["key"])))


# --- pages ---------------------------------------------------------------------------------


def items_with_stock(*, user: Any, site: Site, q: str = "") -> QuerySet[Item]:
    """Items the user may see, annotated with on hand / reserved at ``site`` (one query per page)."""
    on_hand = (
        StockLevel.objects.filter(item=OuterRef("pk"), site=site, location__is_virtual=False)
        .values("item")
        .annotate(s=Sum("on_hand"))
        .values("s")
    )
    reserved = (
        StockReservation.objects.filter(item=OuterRef("pk"), site=site, status=StockReservation.Status.OPEN)
        .values("item")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    items = items_for_user(user=user).annotate(
        on_hand_total=Coalesce(Subquery(on_hand, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
        reserved_total=Coalesce(Subquery(reserved, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
    )
    items = items.annotate(
        available_total=ExpressionWrapper(F("on_hand_total") - F("reserved_total"), output_field=QTY_FIELD)
    )
    if q:
        items = items.filter(Q(sku__icontains=q) | Q(name__icontains=q) | Q(gtin=q))
    return items


def site_moves(*, user: Any, site: Site, item: Item | None = None) -> QuerySet[StockMove]:
    """The site's ledger (either end at the site), newest first."""
    moves = moves_for_user(user=user).filter(Q(source__site=site) | Q(destination__site=site))
    if item is not None:
        moves = moves.filter(item=item)
    return moves.order_by("-occurred_at", "-pk")


def item_lots_at_site(*, user: Any, item: Item, site: Site) -> list[dict[str, Any]]:
    """Lots of ``item`` with stock at ``site``: code, status, expiry, on hand."""
    return list(
        stock_levels(user=user, item=item, site=site)
        .filter(lot__isnull=False, location__is_virtual=False)
        .values("lot__code", "lot__status", "lot__expiry_date")
        .annotate(on_hand=Sum("on_hand"))
        .order_by("lot__expiry_date", "lot__code")
    )


def location_tree_with_totals(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """The site's real locations in tree order with how many items each holds itself (two queries).

    A count of items, not a sum of quantities: pieces, kilograms and metres do not add up."""
    locations = list(Location.objects.restrict(user, "view").filter(site=site, is_virtual=False).order_by("path"))
    counts = dict(
        StockLevel.objects.restrict(user, "view")
        .filter(site=site, location__is_virtual=False)
        .exclude(on_hand=0)
        .values("location_id")
        .annotate(n=Count("item", distinct=True))
        .values_list("location_id", "n")
    )
    return [{"location": loc, "items": counts.get(loc.pk, 0)} for loc in locations]
