"""Which stock to take: ``stock_pick``, the one picking rule, and what a site has available."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum

from inventory import errors
from inventory.locks import LevelKey, lock_levels
from inventory.models import ZERO, Item, Lot, StockLevel, StockReservation
from inventory.services.checks import _check_lot_usable
from tracker.models import Location


def _site_lock_q(item: Item, site_id: int, location: Location | None = None) -> Q:
    """Every level of ``item`` at a site's real locations (or at one location)."""
    if location is not None:
        return Q(item_id=item.pk, location_id=location.pk)
    return Q(item_id=item.pk, site_id=site_id, location__is_virtual=False)


def site_available(
    *, item: Item, site_id: int, lot: Lot | None = None, exclude_reference: tuple[str, str] | None = None
) -> Decimal:
    """On hand at the site's real locations minus open reservations (read as is: lock first)."""
    levels = StockLevel.objects.real().filter(item=item, site_id=site_id)
    reservations = StockReservation.objects.filter(item=item, site_id=site_id, status=StockReservation.Status.OPEN)
    if lot is not None:
        levels = levels.filter(lot=lot)
        reservations = reservations.filter(Q(lot=lot) | Q(lot__isnull=True))
    if exclude_reference is not None:
        reservations = reservations.exclude(reference=exclude_reference[0], reference_type=exclude_reference[1])
    on_hand = levels.aggregate(s=Sum("on_hand"))["s"] or ZERO
    reserved = reservations.aggregate(s=Sum("quantity"))["s"] or ZERO
    return on_hand - reserved


@dataclasses.dataclass(frozen=True, slots=True)
class Pick:
    """Take ``quantity`` of the item from ``location`` (of ``lot``; None for an item not lot-tracked)."""

    location: Location
    lot: Lot | None
    quantity: Decimal


@dataclasses.dataclass(slots=True)
class Picking:
    """What ``stock_pick`` chose, and every level of the item at the site, locked (for ``_post``)."""

    picks: list[Pick]
    levels: dict[LevelKey, StockLevel]

    @property
    def total(self) -> Decimal:
        return sum((p.quantity for p in self.picks), ZERO)


def _fefo_key(level: StockLevel, lots: dict[int, Lot]) -> tuple[dt.date, dt.datetime, int]:
    lot = lots[level.lot_id] if level.lot_id else None
    if lot is None:
        return (dt.date.max, dt.datetime.max.replace(tzinfo=dt.UTC), 0)
    return (lot.expiry_date or dt.date.max, lot.created_at, lot.pk)


def _others_reservations(
    *, item: Item, site_id: int, reference: tuple[str, str] | None
) -> tuple[Decimal, dict[tuple[int, int | None], Decimal], dict[int, Decimal]]:
    """(all reserved, reserved per pinned (location, lot), reserved per lot without a location)
    by open reservations of references other than ``reference``. Read under the level locks:
    a reservation is only made under them (``stock_reserve``), so this cannot change under us."""
    query = StockReservation.objects.filter(item=item, site_id=site_id, status=StockReservation.Status.OPEN)
    if reference is not None:
        query = query.exclude(reference=reference[0], reference_type=reference[1])
    total = ZERO
    pinned: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    per_lot: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for location_id, lot_id, quantity in query.values_list("location_id", "lot_id", "quantity"):
        total += quantity
        if location_id is not None:
            pinned[(location_id, lot_id)] += quantity
        elif lot_id is not None:
            per_lot[lot_id] += quantity
    return total, pinned, per_lot


def stock_pick(
    *,
    item: Item,
    site_id: int,
    quantity: Decimal | None,
    location: Location | None = None,
    near: Location | None = None,
    exclude_within: Location | None = None,
    lot: Lot | None = None,
    reference: tuple[str, str] | None = None,
    respect_reservations: bool = True,
    allow_blocked: bool = False,
    field: str = "quantity",
    lock: bool = True,
) -> Picking:
    """Choose which stock of ``item`` at a site to take: the one picking rule.

    Every place that takes stock without naming each level (issue, ship, scrap,
    EPCIS capture, the device pipeline's lot transfers) asks this function.

    Guarantees:

    * locks every level of the item at the site's real locations first, in
      primary-key order (``inventory.locks``); the choice is read under those
      locks and ``Picking.levels`` hands them on to ``_post``;
    * candidates: levels with stock at ``location`` when given, else anywhere
      at the site; ``exclude_within`` drops levels inside that subtree; with
      ``near``, only the levels inside it when it holds any;
    * a named ``lot`` is the only lot taken and must be usable (not held,
      quarantined, recalled or expired) unless ``allow_blocked``; without a
      lot, a lot-tracked item's held/blocked/expired lots are skipped and
      the rest is taken first-expiry-first-out (expiry, then oldest lot);
    * with ``respect_reservations``, open reservations of *other* references
      are not taken: the site's total stays at or above what they reserve,
      a lot they reserve keeps that much, a level they pin keeps its share
      (the reservations of ``reference`` itself may be taken);
    * ``quantity`` None means all there is to take (possibly nothing);
      otherwise the picks add up to ``quantity`` or ``insufficient_stock``
      is raised naming the item, lot and place that are short (an item that
      allows negative stock at a named ``location`` is not checked).

    ``lock=False`` reads the same rule without locks, for suggestions on
    pages and in selectors: nothing may be posted from such a picking.
    """
    if lock:
        levels = lock_levels([], site_ids={}, also=_site_lock_q(item, site_id))
    else:
        rows = StockLevel.objects.filter(_site_lock_q(item, site_id)).order_by("pk")
        levels = {(lv.item_id, lv.location_id, lv.lot_id): lv for lv in rows}
    candidates = [lv for lv in levels.values() if lv.on_hand > 0]
    if location is not None:
        candidates = [lv for lv in candidates if lv.location_id == location.pk]
    if lot is not None:
        candidates = [lv for lv in candidates if lv.lot_id == lot.pk]
    lot_ids = {lv.lot_id for lv in levels.values() if lv.lot_id}
    lots = {lot.pk: lot} if lot is not None else {}
    if lot is None and item.is_lot_tracked and lot_ids:
        lots = Lot.objects.in_bulk(lot_ids)
    if lot is None and item.is_lot_tracked and not allow_blocked:
        candidates = [
            lv
            for lv in candidates
            if lv.lot_id and lots[lv.lot_id].status not in Lot.BLOCKED and not lots[lv.lot_id].is_expired()
        ]
    places: dict[int, Location] = {location.pk: location} if location is not None else {}
    if location is None and candidates:
        places = Location.objects.in_bulk({lv.location_id for lv in candidates})
    if exclude_within is not None:
        candidates = [lv for lv in candidates if not _inside(places[lv.location_id], exclude_within)]
    if near is not None and any(_inside(places[lv.location_id], near) for lv in candidates):
        candidates = [lv for lv in candidates if _inside(places[lv.location_id], near)]
    if lot is not None and not allow_blocked and (candidates or quantity is not None):
        _check_lot_usable(lot)
    candidates.sort(key=lambda lv: (*_fefo_key(lv, lots), lv.pk) if item.is_lot_tracked else (lv.pk,))
    names_lot = lot is not None or item.is_lot_tracked
    what = f"{item.sku}{f' lot {lot.code}' if lot is not None else ''}"
    where = location.code if location is not None else (near.code if near is not None else "the site")
    on_hand = sum((lv.on_hand for lv in candidates), ZERO)
    # An item allowed to go negative is taken from a named place whatever it holds (``_post`` agrees).
    unchecked = item.allow_negative and not (item.is_lot_tracked and lot is None)
    if unchecked and location is not None and quantity is not None:
        return Picking([Pick(location, lot, quantity)], levels)
    if quantity is not None and on_hand < quantity:
        usable = " in usable lots" if item.is_lot_tracked and lot is None else ""
        raise errors.InsufficientStock(
            f"Only {on_hand.normalize():f} {item.unit} of {what}{usable} at {where} (need {quantity.normalize():f}).",
            field=field,
            available=str(on_hand),
        )
    cap: Decimal | None = None
    pinned: dict[tuple[int, int | None], Decimal] = {}
    lot_left: dict[int, Decimal] = {}
    if respect_reservations and not item.allow_negative:
        reserved, pinned, per_lot = _others_reservations(item=item, site_id=site_id, reference=reference)
        cap = sum((lv.on_hand for lv in levels.values()), ZERO) - reserved
        for lot_id, amount in per_lot.items():
            held = sum((lv.on_hand for lv in levels.values() if lv.lot_id == lot_id), ZERO)
            lot_left[lot_id] = held - amount
    picks: list[Pick] = []
    remaining = quantity
    for level in candidates:
        if remaining is not None and remaining <= 0:
            break
        take = level.on_hand - pinned.get((level.location_id, level.lot_id), ZERO)
        if level.lot_id in lot_left:
            take = min(take, lot_left[level.lot_id])
        if cap is not None:
            take = min(take, cap - sum((p.quantity for p in picks), ZERO))
        if remaining is not None:
            take = min(take, remaining)
        if take <= 0:
            continue
        if level.lot_id in lot_left:
            lot_left[level.lot_id] -= take
        lot_of_level = lots.get(level.lot_id) if names_lot and level.lot_id is not None else None
        picks.append(Pick(places[level.location_id], lot_of_level, take))
        if remaining is not None:
            remaining -= take
    if quantity is not None and remaining is not None and remaining > 0:
        available = cap if cap is not None and cap < quantity else quantity - remaining
        raise errors.InsufficientStock(
            f"Only {max(available, ZERO).normalize():f} {item.unit} of {what} available at the site"
            " (the rest is reserved).",
            field=field,
            available=str(available),
        )
    if not names_lot:  # one pick per location: the levels of an item without lots are one per place
        merged: dict[int, Pick] = {}
        for pick in picks:
            prev = merged.get(pick.location.pk)
            merged[pick.location.pk] = Pick(pick.location, None, pick.quantity + (prev.quantity if prev else ZERO))
        picks = list(merged.values())
    return Picking(picks, levels)


def _inside(location: Location, zone: Location) -> bool:
    """Whether ``location`` is ``zone`` or in its subtree."""
    return location.pk == zone.pk or location.path.startswith(zone.path)
