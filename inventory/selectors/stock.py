"""Reads of stock: levels, availability, items, lots, serials, moves, and the pages' lists."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from inventory.models import (
    QTY,
    ZERO,
    Item,
    Lot,
    SerialUnit,
    StockLevel,
    StockLevelQuerySet,
    StockMove,
    StockReservation,
)
from tracker.models import Location, Site
from tracker.scoping import has_model_permission

QTY_FIELD = DecimalField(**QTY)


def stock_levels(
    *,
    user: Any,
    item: Item | None = None,
    location: Location | None = None,
    site: Site | None = None,
    lot: Lot | None = None,
    within: Location | None = None,
) -> StockLevelQuerySet:
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
    Expired, held, quarantined and recalled lots are skipped: the rule of
    ``inventory.services.stock_pick``, read without locks.
    """
    from inventory.services import stock_pick

    at = location_or_site if isinstance(location_or_site, Location) else None
    site_id = at.site_id if at is not None else location_or_site.pk
    picking = stock_pick(item=item, site_id=site_id, quantity=None, location=at, respect_reservations=False, lock=False)
    per_lot: dict[int, Decimal] = defaultdict(lambda: ZERO)
    lots: dict[int, Lot] = {}
    remaining = Decimal(quantity)
    for pick in picking.picks:  # in FEFO order, a lot's levels next to each other
        if remaining <= 0 or pick.lot is None:
            continue
        take = min(pick.quantity, remaining)
        per_lot[pick.lot.pk] += take
        lots[pick.lot.pk] = pick.lot
        remaining -= take
    return [(lot, per_lot[pk]) for pk, lot in lots.items()]


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
    current = StockLevel.objects.real().filter(item=item, site=site).aggregate(s=Sum("on_hand"))["s"] or ZERO
    real_ids = Location.objects.real().filter(site=site).values("pk")
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


def items_with_stock(*, user: Any, site: Site, q: str = "") -> QuerySet[Item]:
    """Items the user may see, annotated with on hand / reserved at ``site`` (one query per page)."""
    on_hand = (
        StockLevel.objects.real()
        .filter(item=OuterRef("pk"), site=site)
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
        .real()
        .filter(lot__isnull=False)
        .values("lot__code", "lot__status", "lot__expiry_date")
        .annotate(on_hand=Sum("on_hand"))
        .order_by("lot__expiry_date", "lot__code")
    )


def location_tree_with_totals(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """The site's real locations in tree order with how many items each holds itself (two queries).

    A count of items, not a sum of quantities: pieces, kilograms and metres do not add up."""
    locations = list(Location.objects.restrict(user, "view").real().filter(site=site).order_by("path"))
    counts = dict(
        StockLevel.objects.restrict(user, "view")
        .real()
        .filter(site=site)
        .exclude(on_hand=0)
        .values("location_id")
        .annotate(n=Count("item", distinct=True))
        .values_list("location_id", "n")
    )
    return [{"location": loc, "items": counts.get(loc.pk, 0)} for loc in locations]
