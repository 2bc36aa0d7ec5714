"""Every write that changes stock. The only code that posts moves or changes levels.

Common guarantees of the ``stock_*`` services:

* all-or-nothing: one transaction (``@transaction.atomic``, not durable, so an
  API create can wrap it with its Idempotency-Key record);
* validation before any write: quantity > 0 and whole for counted units,
  lot and serial rules of the item, lot not expired/on hold for outbound
  moves, enough stock; a broken rule raises an ``inventory.errors`` domain
  error and nothing is written;
* double entry: each change is a ``StockMove`` from a source to a destination
  location; levels of real (and in-transit) locations change in the same
  transaction under row locks taken in primary-key order (``inventory.locks``)
  and only with ``F()`` expressions;
* a real location never goes negative unless ``item.allow_negative``;
* after commit: ``stock.changed`` is broadcast to each site touched, and the
  reorder alert of each (item, site) touched is raised once / cleared.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from inventory import errors, stock_daily
from inventory.locks import LevelKey, apply_deltas, apply_reserved, keeps_level, lock_levels
from inventory.models import (
    ZERO,
    CycleCount,
    CycleCountLine,
    GenealogyLink,
    Item,
    Lot,
    Receipt,
    SerialUnit,
    Shipment,
    StockLevel,
    StockMove,
    StockReservation,
)
from tracker.audit import audit_record
from tracker.models import Location, LocationKind, Severity, Site
from tracker.realtime import broadcast
from tracker.services import alert_clear, alert_raise, virtual_location

REORDER_ALERT = "stock.reorder"
EXPIRY_ALERT = "stock.expiring"
QUANTUM = Decimal("0.0001")


# --- validation helpers --------------------------------------------------------


def _quantity(item: Item, quantity: Any, *, field: str = "quantity") -> Decimal:
    try:
        qty = quantity if isinstance(quantity, Decimal) else Decimal(str(quantity))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise errors.InvalidQuantity(f"{quantity!r} is not a quantity.", field=field) from exc
    if not qty.is_finite() or qty <= 0:
        raise errors.InvalidQuantity(f"Quantity must be greater than 0 (got {qty}).", field=field)
    if qty != qty.quantize(QUANTUM):
        raise errors.InvalidQuantity("Quantities have at most 4 decimal places.", field=field)
    if item.is_discrete and qty != qty.to_integral_value():
        raise errors.WrongUnit(f"{item.sku} is counted in {item.unit}: {qty} is not a whole number.", field=field)
    return qty


def check_unit(*, item: Item, unit: str | None) -> None:
    """Raise ``wrong_unit`` if a caller states a unit that is not the item's."""
    if unit and unit != item.unit:
        raise errors.WrongUnit(f"{item.sku} is kept in {item.unit!r}, not {unit!r}.", field="unit")


def _check_item(item: Item) -> None:
    if not item.active:
        raise errors.ItemInactive(f"Item {item.sku} is inactive.", field="item")


def _check_location(location: Location, *, field: str, real: bool = True) -> None:
    if real and location.is_virtual:
        raise errors.InvalidLocation(f"{location.code} is a virtual location.", field=field)
    if not location.active:
        raise errors.InvalidLocation(f"{location.code} is inactive.", field=field)


def _check_lot_usable(lot: Lot, *, field: str = "lot", allow_blocked: bool = False) -> None:
    if allow_blocked:
        return
    if lot.status in Lot.BLOCKED:
        raise errors.LotOnHold(f"Lot {lot.code} is {lot.get_status_display().lower()}.", field=field)
    if lot.is_expired():
        raise errors.LotExpired(f"Lot {lot.code} expired on {lot.expiry_date}.", field=field)


def _check_lot_for_item(item: Item, lot: Lot | None, *, required: bool) -> None:
    if lot is not None and lot.item_id != item.pk:
        raise errors.LotItemMismatch(f"Lot {lot.code} is not a lot of {item.sku}.", field="lot")
    if lot is not None and item.tracking == Item.Tracking.NONE:
        raise errors.LotNotAllowed(f"{item.sku} is not lot-tracked.", field="lot")
    if lot is None and required and item.is_lot_tracked:
        raise errors.LotRequired(f"{item.sku} is lot-tracked: name the lot.", field="lot")


def _serial_codes(serials: Iterable[Any] | None) -> list[str]:
    codes = [s.serial if isinstance(s, SerialUnit) else str(s).strip() for s in (serials or [])]
    if any(not c for c in codes):
        raise errors.SerialRequired("Serials cannot be blank.", field="serials")
    return codes


def _check_serial_count(item: Item, qty: Decimal, serials: Sequence[Any] | None) -> None:
    if item.is_serial_tracked:
        if not serials:
            raise errors.SerialRequired(f"{item.sku} is serial-tracked: list the serials.", field="serials")
        if Decimal(len(serials)) != qty:
            raise errors.SerialCountMismatch(f"{len(serials)} serials for a quantity of {qty}.", field="serials")
    elif serials:
        raise errors.SerialNotAllowed(f"{item.sku} is not serial-tracked.", field="serials")


def _existing_serials(item: Item, serials: Sequence[Any], *, source: Location, lot: Lot | None) -> list[SerialUnit]:
    """Lock and return the serial units, each in stock at ``source``."""
    codes = _serial_codes(serials)
    if len(set(codes)) != len(codes):
        raise errors.SerialDuplicate("A serial is listed twice.", field="serials")
    units = {
        u.serial: u for u in SerialUnit.objects.select_for_update().filter(item=item, serial__in=codes).order_by("pk")
    }
    result = []
    for code in codes:
        unit = units.get(code)
        if unit is None:
            raise errors.UnknownObject(f"No serial {code} of {item.sku}.", field="serials")
        if unit.location_id != source.pk or unit.status != SerialUnit.Status.IN_STOCK:
            raise errors.SerialNotAvailable(f"Serial {code} is not in stock at {source.code}.", field="serials")
        if lot is not None and unit.lot_id != lot.pk:
            raise errors.SerialNotAvailable(f"Serial {code} is not of lot {lot.code}.", field="serials")
        result.append(unit)
    return result


def _new_serials(item: Item, serials: Sequence[Any]) -> list[str]:
    codes = _serial_codes(serials)
    if len(set(codes)) != len(codes):
        raise errors.SerialDuplicate("A serial is listed twice.", field="serials")
    taken = list(SerialUnit.objects.filter(item=item, serial__in=codes).values_list("serial", flat=True)[:5])
    if taken:
        raise errors.SerialDuplicate(f"Serial {', '.join(taken)} of {item.sku} already exists.", field="serials")
    return codes


# --- posting -------------------------------------------------------------------


@dataclasses.dataclass
class _Leg:
    item: Item
    quantity: Decimal
    source: Location
    destination: Location
    lot: Lot | None = None
    serial: SerialUnit | None = None
    external_id: str | None = None  # a document line's own id; else the context's


@dataclasses.dataclass
class _Context:
    kind: str
    reference: str = ""
    reference_type: str = ""
    partner: str = ""
    external_id: str = ""
    note: str = ""
    actor: Any = None
    occurred_at: dt.datetime | None = None
    batch: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)


def _site_lock_q(item: Item, site_id: int, location: Location | None = None) -> Q:
    """Every level of ``item`` at a site's real locations (or at one location)."""
    if location is not None:
        return Q(item_id=item.pk, location_id=location.pk)
    return Q(item_id=item.pk, site_id=site_id, location__is_virtual=False)


def _post(legs: list[_Leg], ctx: _Context, *, lock_also: Q | None = None, preloaded=None) -> list[StockMove]:
    """Lock, check no real level goes negative, write moves and level deltas."""
    if not legs:
        return []
    deltas: dict[LevelKey, Decimal] = defaultdict(lambda: ZERO)
    site_ids: dict[int, int] = {}
    for leg in legs:
        lot_id = leg.lot.pk if leg.lot else None
        for loc, sign in ((leg.source, -1), (leg.destination, 1)):
            if keeps_level(loc):
                deltas[(leg.item.pk, loc.pk, lot_id)] += sign * leg.quantity
                site_ids[loc.pk] = loc.site_id
    levels = preloaded if preloaded is not None else lock_levels(deltas.keys(), site_ids=site_ids, also=lock_also)
    if preloaded is not None:
        missing = [k for k in deltas if k not in levels]
        if missing:
            levels.update(lock_levels(missing, site_ids=site_ids))
    items = {leg.item.pk: leg.item for leg in legs}
    locations = {loc.pk: loc for leg in legs for loc in (leg.source, leg.destination)}
    for key, delta in deltas.items():
        item, location = items[key[0]], locations[key[1]]
        if delta < 0 and not location.is_virtual and not item.allow_negative:
            if levels[key].on_hand + delta < 0:
                raise errors.InsufficientStock(
                    f"Only {levels[key].on_hand.normalize():f} {item.unit} of {item.sku} at {location.code}"
                    f" (need {(-delta).normalize():f}).",
                    field="quantity",
                    available=str(levels[key].on_hand),
                )
    now = timezone.now()
    occurred = ctx.occurred_at or now
    if timezone.is_naive(occurred):
        raise errors.InventoryError("occurred_at must carry a time zone.", field="occurred_at")
    moves = StockMove.objects.bulk_create(
        [
            StockMove(
                kind=ctx.kind,
                item=leg.item,
                quantity=leg.quantity,
                source=leg.source,
                destination=leg.destination,
                lot=leg.lot,
                serial=leg.serial,
                reference=ctx.reference,
                reference_type=ctx.reference_type,
                partner=ctx.partner,
                external_id=ctx.external_id if leg.external_id is None else leg.external_id,
                batch=ctx.batch,
                occurred_at=occurred,
                recorded_at=now,
                actor=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
                note=ctx.note,
            )
            for leg in legs
        ]
    )
    apply_deltas(levels, deltas)
    stock_daily.record_post(moves, locations)
    touched: set[tuple[int, int]] = set()
    for leg in legs:
        for loc in (leg.source, leg.destination):
            if not loc.is_virtual:
                touched.add((leg.item.pk, loc.site_id))
    for item_id, site_id in sorted(touched):
        _check_reorder(item=items[item_id], site_id=site_id)
    _broadcast_moves(moves, locations)
    return moves


def _broadcast_moves(moves: list[StockMove], locations: dict[int, Location]) -> None:
    by_site: dict[int, dict[str, Any]] = {}
    for move in moves:
        for loc_id in (move.source_id, move.destination_id):
            loc = locations[loc_id]
            if loc.is_virtual and loc.kind != LocationKind.TRANSIT:
                continue
            entry = by_site.setdefault(loc.site_id, {"items": set(), "locations": set(), "moves": []})
            entry["items"].add(move.item.sku)
            entry["locations"].add(loc.code)
            if move.pk not in entry["moves"]:
                entry["moves"].append(move.pk)
    for site_id, entry in by_site.items():
        broadcast(
            site_id=site_id,
            type="stock.changed",
            data={
                "items": sorted(entry["items"]),
                "locations": sorted(entry["locations"]),
                "moves": entry["moves"][:50],
            },
        )


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


def _check_reorder(*, item: Item, site_id: int) -> None:
    """Raise the reorder alert once when available < reorder point (or safety stock); clear on recovery."""
    threshold = max(item.reorder_point, item.safety_stock)
    if threshold <= 0:
        return
    from tracker.models import Alert

    available = site_available(item=item, site_id=site_id)
    subject = f"item:{item.sku}"
    open_alert = Alert.objects.filter(
        site_id=site_id, kind=REORDER_ALERT, subject=subject, cleared_at__isnull=True
    ).first()
    if available < threshold:
        severity = Severity.CRITICAL if available < item.safety_stock else Severity.WARNING
        if open_alert is None or open_alert.severity != severity:
            alert_raise(
                site=site_id,
                kind=REORDER_ALERT,
                subject=subject,
                severity=severity,
                message=f"{item.sku} {item.name}: {available.normalize():f} {item.unit} available, "
                f"reorder point {item.reorder_point.normalize():f}, safety stock {item.safety_stock.normalize():f}.",
                data={"sku": item.sku, "available": str(available), "reorder_point": str(item.reorder_point)},
            )
    elif open_alert is not None:
        alert_clear(site=site_id, kind=REORDER_ALERT, subject=subject)


# --- lots ----------------------------------------------------------------------


def _lot_for_receipt(
    *,
    item: Item,
    code: str,
    site: Site,
    origin: str,
    reference: str,
    supplier: str = "",
    expiry_date: dt.date | None = None,
    manufactured_date: dt.date | None = None,
) -> Lot:
    code = code.strip()
    if not code:
        raise errors.LotRequired(f"{item.sku} is lot-tracked: give a lot code.", field="lot")
    if expiry_date is None and item.shelf_life_days:
        expiry_date = (manufactured_date or timezone.localdate()) + dt.timedelta(days=item.shelf_life_days)
    if expiry_date is not None and expiry_date < timezone.localdate():
        raise errors.LotExpired(f"Lot {code} expired on {expiry_date}.", field="expiry_date")
    lot, created = Lot.objects.get_or_create(
        item=item,
        code=code,
        defaults={
            "site": site,
            "origin": origin,
            "origin_reference": reference,
            "supplier": supplier,
            "expiry_date": expiry_date,
            "manufactured_date": manufactured_date,
        },
    )
    if not created:
        _check_lot_usable(lot, field="lot")
    return lot


def _resolve_serial_lot_legs(
    *,
    item: Item,
    qty: Decimal,
    source: Location,
    destination: Location,
    lot: Lot | None,
    serials: Sequence[Any] | None,
) -> tuple[list[_Leg], list[SerialUnit]]:
    """Legs for an outbound move of a serial-tracked item: one per serial."""
    units = _existing_serials(item, serials or [], source=source, lot=lot)
    for unit in units:
        if unit.lot_id is not None:
            _check_lot_usable(unit.lot, field="serials")
    return [_Leg(item, Decimal(1), source, destination, unit.lot, unit) for unit in units], units


def _set_serials(units: Iterable[SerialUnit], *, location: Location, status: str) -> None:
    ids = [u.pk for u in units]
    if ids:
        SerialUnit.objects.filter(pk__in=ids).update(location=location, status=status, updated_at=timezone.now())
        for u in units:
            u.location, u.status = location, status


# --- the contract --------------------------------------------------------------


def _receipt_legs(
    *,
    item: Item,
    quantity: Any,
    location: Location,
    lot_code: str | None,
    serials: Sequence[str] | None,
    expiry_date: dt.date | None,
    manufactured_date: dt.date | None,
    reference: str,
    supplier: str,
    source: Location,
    external_id: str | None = None,
) -> list[_Leg]:
    """Check one received line and return its legs (creating its lot and serial units)."""
    _check_item(item)
    qty = _quantity(item, quantity)
    _check_location(location, field="location")
    _check_serial_count(item, qty, serials)
    lot = None
    if item.is_lot_tracked or (lot_code and item.is_serial_tracked):
        lot = _lot_for_receipt(
            item=item,
            code=lot_code or "",
            site=location.site,
            origin=Lot.Origin.SUPPLIER,
            reference=reference,
            supplier=supplier,
            expiry_date=expiry_date,
            manufactured_date=manufactured_date,
        )
    elif lot_code:
        raise errors.LotNotAllowed(f"{item.sku} is not lot-tracked.", field="lot")
    if item.is_serial_tracked:
        codes = _new_serials(item, serials or [])
        units = SerialUnit.objects.bulk_create(
            [SerialUnit(item=item, serial=c, lot=lot, location=location) for c in codes]
        )
        return [_Leg(item, Decimal(1), source, location, lot, u, external_id) for u in units]
    return [_Leg(item, qty, source, location, lot, None, external_id)]


@transaction.atomic
def stock_receive(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot_code: str | None = None,
    serials: Sequence[str] | None = None,
    expiry_date: dt.date | None = None,
    manufactured_date: dt.date | None = None,
    reference: str = "",
    reference_type: str = "purchase_order",
    supplier: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
) -> list[StockMove]:
    """Receive goods from the site's supplier location into ``location``.

    Guarantees: the lot (origin supplier receipt) is created or reused (a
    blocked or expired lot is refused), serials are new for the item (else
    ``serial_duplicate``) and one move is posted per serial; a lot-tracked
    item without ``lot_code`` is ``lot_required``.
    """
    legs = _receipt_legs(
        item=item,
        quantity=quantity,
        location=location,
        lot_code=lot_code,
        serials=serials,
        expiry_date=expiry_date,
        manufactured_date=manufactured_date,
        reference=reference,
        supplier=supplier,
        source=virtual_location(site=location.site_id, kind=LocationKind.SUPPLIER),
    )
    ctx = _Context(
        kind=StockMove.Kind.RECEIPT,
        reference=reference,
        reference_type=reference_type,
        partner=supplier,
        actor=actor,
        occurred_at=occurred_at,
        external_id=external_id,
    )
    return _post(legs, ctx)


# --- picking: which stock to take ----------------------------------------------


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
        picks.append(Pick(places[level.location_id], lots.get(level.lot_id) if names_lot else None, take))
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Outbound:
    """What tells issue, ship and scrap apart; ``_outbound`` is everything they share."""

    kind: str  # StockMove.Kind
    destination: str  # the site's virtual LocationKind the goods go to
    serial_status: str  # what serial units taken become
    fefo: bool  # without a named lot, pick the lots (else the lot must be named)
    respect_reservations: bool  # leave other references' reservations alone
    allow_blocked: bool  # held, quarantined, recalled and expired lots may go too


_ISSUE = _Outbound(
    StockMove.Kind.ISSUE,
    LocationKind.PRODUCTION,
    SerialUnit.Status.CONSUMED,
    fefo=True,
    respect_reservations=True,
    allow_blocked=False,
)
_SHIP = _Outbound(
    StockMove.Kind.SHIP,
    LocationKind.CUSTOMER,
    SerialUnit.Status.SHIPPED,
    fefo=True,
    respect_reservations=True,
    allow_blocked=False,
)
# Lost stock is lost: scrap ignores reservations, and it is how blocked or expired lots leave stock.
_SCRAP = _Outbound(
    StockMove.Kind.SCRAP,
    LocationKind.SCRAP,
    SerialUnit.Status.SCRAPPED,
    fefo=False,
    respect_reservations=False,
    allow_blocked=True,
)


def _outbound(
    spec: _Outbound,
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None,
    serials: Sequence[Any] | None,
    reference: str,
    reference_type: str,
    actor: Any,
    occurred_at: dt.datetime | None,
    partner: str = "",
    external_id: str = "",
    note: str = "",
    settle_reservation: bool = False,
) -> list[StockMove]:
    """The shared body of issue, ship and scrap: from a real location to one of the site's
    virtual locations, the stock chosen by ``stock_pick``; with ``settle_reservation`` the
    reference's own reservation is consumed by what left."""
    destination = virtual_location(site=location.site_id, kind=spec.destination)
    ctx = _Context(
        kind=spec.kind,
        reference=reference,
        reference_type=reference_type,
        partner=partner,
        external_id=external_id,
        note=note,
        actor=actor,
        occurred_at=occurred_at,
    )
    _check_item(item)
    qty = _quantity(item, quantity)
    _check_location(location, field="location")
    _check_serial_count(item, qty, serials)
    _check_lot_for_item(item, lot, required=not spec.fefo)
    if lot is not None:
        _check_lot_usable(lot, allow_blocked=spec.allow_blocked)
    units: list[SerialUnit] = []
    if item.is_serial_tracked:
        # The serials name what is taken; lock the item's levels at the site before them, as always.
        lock_levels([], site_ids={}, also=_site_lock_q(item, location.site_id))
        legs, units = _resolve_serial_lot_legs(
            item=item, qty=qty, source=location, destination=destination, lot=lot, serials=serials
        )
    picking = stock_pick(
        item=item,
        site_id=location.site_id,
        quantity=qty,
        location=location,
        lot=lot,
        reference=(reference, reference_type) if reference else None,
        respect_reservations=spec.respect_reservations,
        allow_blocked=spec.allow_blocked,
    )
    if not item.is_serial_tracked:
        legs = [_Leg(item, pick.quantity, location, destination, pick.lot) for pick in picking.picks]
    moves = _post(legs, ctx, preloaded=picking.levels)
    _set_serials(units, location=destination, status=spec.serial_status)
    if settle_reservation and reference:
        _settle_reservation(
            item=item, site_id=location.site_id, reference=reference, reference_type=reference_type, moves=moves
        )
    return moves


def _consume_reservations(*, item: Item, reference: str, reference_type: str, quantity: Decimal) -> None:
    remaining = quantity
    open_reservations = (
        StockReservation.objects.select_for_update()
        .filter(item=item, reference=reference, reference_type=reference_type, status=StockReservation.Status.OPEN)
        .order_by("pk")
    )
    for reservation in open_reservations:
        if remaining <= 0:
            break
        take = min(reservation.quantity, remaining)
        remaining -= take
        _reservation_reduce(reservation, take, StockReservation.Status.CONSUMED)


def _reservation_reduce(reservation: StockReservation, amount: Decimal, closing_status: str) -> None:
    if reservation.location_id is not None:
        level = (
            StockLevel.objects.select_for_update()
            .filter(item_id=reservation.item_id, location_id=reservation.location_id, lot_id=reservation.lot_id)
            .order_by("pk")
            .first()
        )
        if level is not None:
            apply_reserved(level, -min(amount, level.reserved))
    left = reservation.quantity - amount
    updates: dict[str, Any] = {"quantity": left}
    if left <= 0:
        updates.update(status=closing_status, closed_at=timezone.now())
    StockReservation.objects.filter(pk=reservation.pk).update(**updates)


@transaction.atomic
def stock_issue(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reference: str = "",
    reference_type: str = "work_order",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    release_reservation: bool = True,
) -> list[StockMove]:
    """Issue material from ``location`` to the site's production (WIP) location.

    Guarantees: a lot-tracked item without ``lot`` is picked FEFO from usable
    lots at the location (possibly several moves); blocked or expired lots
    are refused; stock reserved for other references is not taken
    (``insufficient_stock``); the open reservation of (reference, item) is
    consumed by the issued quantity when ``release_reservation``.
    """
    return _outbound(
        _ISSUE,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        settle_reservation=release_reservation,
    )


def _settle_reservation(
    *, item: Item, site_id: int, reference: str, reference_type: str, moves: list[StockMove]
) -> None:
    """Consume the reservation that the outbound ``moves`` fulfil, then re-check the
    reorder point (releasing a reservation changes what is available)."""
    _consume_reservations(
        item=item, reference=reference, reference_type=reference_type, quantity=sum((m.quantity for m in moves), ZERO)
    )
    _check_reorder(item=item, site_id=site_id)


@transaction.atomic
def stock_ship(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reference: str = "",
    reference_type: str = "sales_order",
    customer: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
) -> list[StockMove]:
    """Ship goods from ``location`` to the site's customer location against a sales reference.

    Guarantees as ``stock_issue`` (FEFO when no lot is named, blocked/expired
    lots refused, others' reservations respected); the reservation of
    (reference, item) is consumed; shipped serials leave stock.
    """
    return _outbound(
        _SHIP,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        partner=customer,
        external_id=external_id,
        settle_reservation=True,
    )


@transaction.atomic
def stock_scrap(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reason: str = "",
    reference: str = "",
    reference_type: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Scrap goods from ``location`` to the site's scrap location.

    Guarantees: the lot must be named for a lot-tracked item; expired and
    held lots *may* be scrapped (that is how they leave stock); the location
    never goes negative.
    """
    return _outbound(
        _SCRAP,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        note=reason,
    )


@transaction.atomic
def stock_transfer(
    *,
    item: Item,
    quantity: Decimal,
    source: Location,
    destination: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reference: str = "",
    reference_type: str = "transfer",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Move stock between two real locations.

    Within a site: one move per lot/serial. Between sites: two moves each,
    source -> the source site's in-transit location -> destination (booked
    together). Guarantees: the lot is named for a lot-tracked item, it is
    not blocked or expired, the source never goes negative.
    """
    _check_item(item)
    qty = _quantity(item, quantity)
    _check_location(source, field="source")
    _check_location(destination, field="destination")
    if source.pk == destination.pk:
        raise errors.InvalidLocation("Source and destination are the same location.", field="destination")
    _check_serial_count(item, qty, serials)
    _check_lot_for_item(item, lot, required=True)
    if lot is not None:
        _check_lot_usable(lot)
    hops = [(source, destination)]
    if source.site_id != destination.site_id:
        transit = virtual_location(site=source.site_id, kind=LocationKind.TRANSIT)
        hops = [(source, transit), (transit, destination)]
    ctx = _Context(
        kind=StockMove.Kind.TRANSFER,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
    )
    units: list[SerialUnit] = []
    legs: list[_Leg] = []
    if item.is_serial_tracked:
        first, units = _resolve_serial_lot_legs(
            item=item, qty=qty, source=source, destination=hops[0][1], lot=lot, serials=serials
        )
        for leg in first:
            legs.append(leg)
            if len(hops) == 2:
                legs.append(_Leg(item, leg.quantity, hops[1][0], hops[1][1], leg.lot, leg.serial))
    else:
        legs = [_Leg(item, qty, a, b, lot) for a, b in hops]
    preloaded = None
    if len(hops) == 2 and not item.allow_negative:
        # Leaving the site lowers its availability: stock reserved there stays.
        preloaded = lock_levels([], site_ids={}, also=_site_lock_q(item, source.site_id))
        available = site_available(item=item, site_id=source.site_id)
        if available < qty:
            raise errors.InsufficientStock(
                f"Only {max(available, ZERO).normalize():f} {item.unit} of {item.sku} available at"
                f" {source.site.code} (the rest is reserved).",
                field="quantity",
                available=str(available),
            )
    moves = _post(legs, ctx, preloaded=preloaded)
    _set_serials(units, location=destination, status=SerialUnit.Status.IN_STOCK)
    return moves


@transaction.atomic
def stock_adjust(
    *,
    item: Item,
    location: Location,
    quantity_delta: Decimal,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reason: str,
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    kind: str = StockMove.Kind.ADJUST,
    reference: str = "",
    reference_type: str = "adjustment",
) -> list[StockMove]:
    """Correct on hand at ``location`` by ``quantity_delta`` (positive: found; negative: lost).

    Guarantees: a reason is required; the move runs from/to the site's
    adjustment location; a positive delta of a serial item creates the named
    serials (new ones only); a negative one never takes a real location below 0.
    """
    if not (reason or "").strip():
        raise errors.ReasonRequired("An adjustment needs a reason.", field="reason")
    try:
        delta = Decimal(str(quantity_delta))
    except InvalidOperation as exc:
        raise errors.InvalidQuantity(f"{quantity_delta!r} is not a quantity.", field="quantity_delta") from exc
    if delta == 0:
        raise errors.InvalidQuantity("An adjustment of 0 changes nothing.", field="quantity_delta")
    _check_item(item)
    qty = _quantity(item, abs(delta), field="quantity_delta")
    _check_location(location, field="location")
    _check_serial_count(item, qty, serials)
    _check_lot_for_item(item, lot, required=True)
    adjustment = virtual_location(site=location.site_id, kind=LocationKind.ADJUSTMENT)
    ctx = _Context(
        kind=kind, reference=reference, reference_type=reference_type, note=reason, actor=actor, occurred_at=occurred_at
    )
    if delta > 0:
        if item.is_serial_tracked:
            codes = _new_serials(item, serials or [])
            units = SerialUnit.objects.bulk_create(
                [SerialUnit(item=item, serial=c, lot=lot, location=location) for c in codes]
            )
            legs = [_Leg(item, Decimal(1), adjustment, location, lot, u) for u in units]
        else:
            legs = [_Leg(item, qty, adjustment, location, lot)]
        return _post(legs, ctx)
    if item.is_serial_tracked:
        legs, units = _resolve_serial_lot_legs(
            item=item, qty=qty, source=location, destination=adjustment, lot=lot, serials=serials
        )
    else:
        legs, units = [_Leg(item, qty, location, adjustment, lot)], []
    moves = _post(legs, ctx)
    _set_serials(units, location=adjustment, status=SerialUnit.Status.SCRAPPED)
    return moves


def _consumed_entries(consumed: Iterable[Any]) -> list[tuple[Item, Lot | None, SerialUnit | None, Decimal | None]]:
    entries = []
    for c in consumed:
        if isinstance(c, StockMove):
            entries.append((c.item, c.lot, c.serial, c.quantity))
        elif isinstance(c, Lot):
            entries.append((c.item, c, None, None))
        elif isinstance(c, SerialUnit):
            entries.append((c.item, c.lot, c, Decimal(1)))
        else:
            raise errors.InventoryError(f"Cannot record {c!r} as consumed.", field="consumed")
    return entries


@transaction.atomic
def stock_produce(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot_code: str | None = None,
    serials: Sequence[str] | None = None,
    consumed: Sequence[Any] = (),
    reference: str = "",
    reference_type: str = "work_order",
    expiry_date: dt.date | None = None,
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Book finished output from the production location into ``location``.

    Guarantees: creates the output lot (origin work order) or serials (new
    only), and one genealogy link from each output lot/serial to each
    consumed lot/serial (``consumed``: issue moves, lots or serial units),
    so traces run backward and forward through levels of assembly.
    """
    _check_item(item)
    qty = _quantity(item, quantity)
    _check_location(location, field="location")
    _check_serial_count(item, qty, serials)
    lot = None
    if item.is_lot_tracked or (lot_code and item.is_serial_tracked):
        lot = _lot_for_receipt(
            item=item,
            code=lot_code or "",
            site=location.site,
            origin=Lot.Origin.WORK_ORDER,
            reference=reference,
            expiry_date=expiry_date,
            manufactured_date=timezone.localdate(),
        )
    elif lot_code:
        raise errors.LotNotAllowed(f"{item.sku} is not lot-tracked.", field="lot")
    source = virtual_location(site=location.site_id, kind=LocationKind.PRODUCTION)
    ctx = _Context(
        kind=StockMove.Kind.PRODUCE,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
    )
    units: list[SerialUnit] = []
    if item.is_serial_tracked:
        codes = _new_serials(item, serials or [])
        units = SerialUnit.objects.bulk_create(
            [SerialUnit(item=item, serial=c, lot=lot, location=location) for c in codes]
        )
        legs = [_Leg(item, Decimal(1), source, location, lot, u) for u in units]
    else:
        legs = [_Leg(item, qty, source, location, lot)]
    moves = _post(legs, ctx)
    entries = _consumed_entries(consumed)
    outputs: list[tuple[Lot | None, SerialUnit | None]] = [(u.lot, u) for u in units] or ([(lot, None)] if lot else [])
    links = [
        GenealogyLink(
            site_id=location.site_id,
            output_item=item,
            output_lot=out_lot,
            output_serial=out_serial,
            input_item=in_item,
            input_lot=in_lot,
            input_serial=in_serial,
            quantity=in_qty,
            reference=reference,
        )
        for out_lot, out_serial in outputs
        for in_item, in_lot, in_serial, in_qty in entries
        if in_lot is not None or in_serial is not None
    ]
    GenealogyLink.objects.bulk_create(links)
    return moves


# --- reservations ---------------------------------------------------------------


@transaction.atomic
def stock_reserve(
    *,
    item: Item,
    quantity: Decimal,
    site: Site,
    reference: str,
    reference_type: str = "work_order",
    lot: Lot | None = None,
    location: Location | None = None,
    actor: Any = None,
) -> StockReservation:
    """Reserve ``quantity`` of ``item`` at ``site`` for a reference.

    Guarantees: checked under the locks of the item's levels at the site, so
    two reservations never promise the same stock (``insufficient_stock``
    if available < quantity); a location-pinned reservation also raises
    that level's ``reserved``.
    """
    _check_item(item)
    qty = _quantity(item, quantity)
    if not reference:
        raise errors.InventoryError("A reservation needs a reference.", field="reference")
    _check_lot_for_item(item, lot, required=False)
    if location is not None and location.site_id != site.pk:
        raise errors.InvalidLocation("The location is not at that site.", field="location")
    levels = lock_levels([], site_ids={}, also=_site_lock_q(item, site.pk))
    available = site_available(item=item, site_id=site.pk, lot=lot)
    if location is not None:
        at = [lv for lv in levels.values() if lv.location_id == location.pk and (lot is None or lv.lot_id == lot.pk)]
        available = min(available, sum((lv.on_hand - lv.reserved for lv in at), ZERO))
    if available < qty:
        raise errors.InsufficientStock(
            f"Only {max(available, ZERO).normalize():f} {item.unit} of {item.sku} available to reserve.",
            field="quantity",
            available=str(available),
        )
    reservation = StockReservation.objects.create(
        item=item,
        site=site,
        lot=lot,
        location=location,
        quantity=qty,
        quantity_requested=qty,
        reference=reference,
        reference_type=reference_type,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if location is not None:
        key = (item.pk, location.pk, lot.pk if lot else None)
        level = levels.get(key) or lock_levels([key], site_ids={location.pk: site.pk})[key]
        apply_reserved(level, qty)
    _check_reorder(item=item, site_id=site.pk)
    return reservation


@transaction.atomic
def stock_release_reservation(*, reference: str, reference_type: str = "work_order", item: Item | None = None) -> int:
    """Release the open reservations of a reference (of one item, or all). Returns how many.

    Locks the items' levels at their sites first, then the reservations: the
    same order as issue and reserve, so they never deadlock with each other.
    """
    query = StockReservation.objects.filter(
        reference=reference, reference_type=reference_type, status=StockReservation.Status.OPEN
    )
    if item is not None:
        query = query.filter(item=item)
    pairs = sorted(set(query.values_list("item_id", "site_id")))
    if pairs:
        also = Q(pk__in=[])
        for item_id, site_id in pairs:
            also |= Q(item_id=item_id, site_id=site_id, location__is_virtual=False)
        lock_levels([], site_ids={}, also=also)
    released = list(query.select_for_update().order_by("pk"))
    for reservation in released:
        _reservation_reduce(reservation, reservation.quantity, StockReservation.Status.RELEASED)
    for item_id, site_id in sorted({(r.item_id, r.site_id) for r in released}):
        _check_reorder(item=Item.objects.get(pk=item_id), site_id=site_id)
    return len(released)


# --- lots: status and recall -----------------------------------------------------


@transaction.atomic
def lot_set_status(*, lot: Lot, status: str, reason: str = "", actor: Any = None) -> Lot:
    """Set a lot's status (available, quarantined, on hold, expired, recalled), audited.

    Serials of the lot in stock follow a hold (on hold) and its release (in stock).
    """
    if status not in Lot.Status.values:
        raise errors.InventoryError(f"Unknown lot status {status!r}.", field="status")
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status == Lot.Status.RECALLED and status != Lot.Status.RECALLED:
        raise errors.CountNotOpen("A recalled lot stays recalled.", field="status")
    old = lot.status
    Lot.objects.filter(pk=lot.pk).update(status=status, status_reason=reason[:500])
    lot.status, lot.status_reason = status, reason[:500]
    if status in Lot.BLOCKED:
        SerialUnit.objects.filter(lot=lot, status=SerialUnit.Status.IN_STOCK).update(status=SerialUnit.Status.ON_HOLD)
    elif old in Lot.BLOCKED:
        SerialUnit.objects.filter(lot=lot, status=SerialUnit.Status.ON_HOLD).update(status=SerialUnit.Status.IN_STOCK)
    audit_record(
        actor=actor,
        action="lot.status_changed",
        obj=lot,
        site=lot.site,
        changes={"status": [old, status], "reason": reason},
    )
    return lot


@dataclasses.dataclass
class RecallResult:
    lot: Lot
    held_lots: list[Lot]
    held_serials: list[SerialUnit]
    affected_shipments: list[dict[str, Any]]


def _downstream(lot_ids: set[int], serial_ids: set[int]) -> tuple[set[int], set[int]]:
    """Every lot and serial that (transitively) consumed the given ones; a lot's serials are part of it."""
    from inventory.selectors import genealogy_walk

    # depth bound: assemblies are not 50 levels deep
    walk = genealogy_walk(lot_ids=lot_ids, serial_ids=serial_ids, direction="forward", max_depth=50, lot_members=True)
    return walk.lots, walk.serials


@transaction.atomic
def lot_recall(*, lot: Lot, actor: Any = None, reason: str = "") -> RecallResult:
    """Recall a lot: it becomes recalled; every downstream lot still in stock and
    every downstream serial in stock goes on hold; returns the shipments that
    carried the lot or anything made from it."""
    lot = lot_set_status(lot=lot, status=Lot.Status.RECALLED, reason=reason or "recall", actor=actor)
    lot_ids, serial_ids = _downstream({lot.pk}, set())
    downstream_ids = lot_ids - {lot.pk}
    in_stock = set(
        StockLevel.objects.real().filter(lot_id__in=downstream_ids, on_hand__gt=0).values_list("lot_id", flat=True)
    )
    held_lots = []
    for other in Lot.objects.filter(pk__in=in_stock).exclude(status__in=Lot.BLOCKED).order_by("pk"):
        held_lots.append(
            lot_set_status(lot=other, status=Lot.Status.ON_HOLD, reason=f"recall of lot {lot.code}", actor=actor)
        )
    serials = list(SerialUnit.objects.filter(pk__in=serial_ids, status=SerialUnit.Status.IN_STOCK).order_by("pk"))
    SerialUnit.objects.filter(pk__in=[s.pk for s in serials]).update(status=SerialUnit.Status.ON_HOLD)
    shipments = (
        StockMove.objects.filter(kind=StockMove.Kind.SHIP)
        .filter(Q(lot_id__in=lot_ids) | Q(serial_id__in=serial_ids))
        .select_related("item", "lot", "serial", "source__site")
        .order_by("occurred_at", "pk")
    )
    affected = [
        {
            "move": m.pk,
            "reference": m.reference,
            "customer": m.partner,
            "item": m.item.sku,
            "lot": m.lot.code if m.lot else None,
            "serial": m.serial.serial if m.serial else None,
            "quantity": str(m.quantity),
            "shipped_at": m.occurred_at.isoformat(),
            "site": m.source.site.code,
        }
        for m in shipments
    ]
    audit_record(
        actor=actor,
        action="lot.recalled",
        obj=lot,
        site=lot.site,
        changes={"held_lots": [x.code for x in held_lots], "held_serials": len(serials), "shipments": len(affected)},
    )
    if lot.site_id is not None:
        broadcast(
            site_id=lot.site_id,
            type="lot.recalled",
            data={
                "lot": {
                    "code": lot.code,
                    "item": lot.item.sku,
                    "held_lots": [x.code for x in held_lots],
                    "held_serials": len(serials),
                    "affected_shipments": len(affected),
                }
            },
        )
    return RecallResult(lot=lot, held_lots=held_lots, held_serials=serials, affected_shipments=affected)


# --- partners: receipts and shipments of several lines ------------------------------


def _lock_order(lines: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Lines in (item, location) order, so two multi-line documents take their locks in
    the same order and cannot deadlock; each keeps its index for error reports."""
    return sorted(enumerate(lines), key=lambda pair: (pair[1]["item"].pk, pair[1]["location"].pk, pair[0]))


@transaction.atomic
def receipt_create(
    *,
    site: Site,
    reference: str,
    lines: Sequence[dict[str, Any]],
    supplier: str = "",
    external_id: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> Receipt:
    """Receive a purchase order's lines at once: all lines or none.

    Each line: item, quantity, location (at ``site``), lot_code, serials,
    expiry_date, manufactured_date, external_id. A bad line raises its
    domain error with ``line`` set to its index and nothing is written.
    """
    ctx = _Context(
        kind=StockMove.Kind.RECEIPT,
        reference=reference,
        reference_type="purchase_order",
        partner=supplier,
        actor=actor,
        occurred_at=occurred_at,
    )
    batch = ctx.batch
    source = virtual_location(site=site, kind=LocationKind.SUPPLIER)
    legs_by_line: dict[int, list[_Leg]] = {}
    for index, line in _lock_order(lines):
        if line["location"].site_id != site.pk:
            raise errors.InvalidLocation("The location is not at the receipt's site.", field="location", line=index)
        try:
            legs_by_line[index] = _receipt_legs(
                item=line["item"],
                quantity=line["quantity"],
                location=line["location"],
                lot_code=line.get("lot_code"),
                serials=line.get("serials"),
                expiry_date=line.get("expiry_date"),
                manufactured_date=line.get("manufactured_date"),
                reference=reference,
                supplier=supplier,
                source=source,
                external_id=line.get("external_id", ""),
            )
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            exc.extra.setdefault("line", index)
            raise
    # All lines in one posting: one lock statement, one insert, one broadcast.
    order = sorted(legs_by_line)
    moves = _post([leg for index in order for leg in legs_by_line[index]], ctx)
    receipt = Receipt.objects.create(
        site=site,
        reference=reference,
        supplier=supplier,
        external_id=external_id,
        batch=batch,
        received_at=occurred_at or timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    receipt.moves_posted = moves
    broadcast(
        site_id=site.pk,
        type="receipt.posted",
        data={
            "receipt": {
                "reference": reference,
                "supplier": supplier,
                "external_id": external_id,
                "lines": len(lines),
                "moves": [m.pk for m in receipt.moves_posted][:100],
            }
        },
    )
    return receipt


@transaction.atomic
def shipment_create(
    *,
    site: Site,
    reference: str,
    lines: Sequence[dict[str, Any]],
    customer: str = "",
    external_id: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> Shipment:
    """Ship a sales order's lines at once: all lines or none (see ``stock_ship``)."""
    by_line: dict[int, list[StockMove]] = {}
    for index, line in _lock_order(lines):
        if line["location"].site_id != site.pk:
            raise errors.InvalidLocation("The location is not at the shipment's site.", field="location", line=index)
        try:
            by_line[index] = stock_ship(
                item=line["item"],
                quantity=line["quantity"],
                location=line["location"],
                lot=line.get("lot"),
                serials=line.get("serials"),
                reference=reference,
                customer=customer,
                actor=actor,
                occurred_at=occurred_at,
                external_id=line.get("external_id", ""),
            )
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            exc.extra.setdefault("line", index)
            raise
    shipment = Shipment.objects.create(
        site=site,
        reference=reference,
        customer=customer,
        external_id=external_id,
        batch=uuid.uuid4(),
        shipped_at=occurred_at or timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    shipment.moves_posted = [m for index in sorted(by_line) for m in by_line[index]]
    broadcast(
        site_id=site.pk,
        type="shipment.posted",
        data={
            "shipment": {
                "reference": reference,
                "customer": customer,
                "external_id": external_id,
                "lines": len(lines),
                "moves": [m.pk for m in shipment.moves_posted][:100],
            }
        },
    )
    return shipment


# --- cycle counts -----------------------------------------------------------------


@transaction.atomic
def cycle_count_create(*, location: Location, reference: str = "", actor: Any = None) -> CycleCount:
    """Open a count of ``location`` and its subtree."""
    _check_location(location, field="location")
    return CycleCount.objects.create(
        site_id=location.site_id,
        location=location,
        reference=reference,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


@transaction.atomic
def cycle_count_record(
    *, count: CycleCount, item: Item, location: Location, counted: Decimal, lot: Lot | None = None
) -> CycleCountLine:
    """Record a counted quantity; the expected quantity is the level at this moment.

    Recording the same (item, location, lot) again replaces the counted value.
    """
    count = CycleCount.objects.select_for_update().get(pk=count.pk)
    if count.status != CycleCount.Status.OPEN:
        raise errors.CountNotOpen("The count is not open.", field="count")
    if not location.path.startswith(count.location.path) or location.is_virtual:
        raise errors.InvalidLocation("The location is not in the counted area.", field="location")
    _check_lot_for_item(item, lot, required=True)
    try:
        value = Decimal(str(counted))
    except InvalidOperation as exc:
        raise errors.InvalidQuantity("Counted quantity is not a number.", field="counted") from exc
    if value < 0:
        raise errors.InvalidQuantity("A counted quantity cannot be negative.", field="counted")
    if value and item.is_discrete and value != value.to_integral_value():
        raise errors.WrongUnit(f"{item.sku} is counted in {item.unit}.", field="counted")
    level = StockLevel.objects.filter(item=item, location=location, lot=lot).first()
    expected = level.on_hand if level else ZERO
    line, _ = CycleCountLine.objects.update_or_create(
        count=count,
        item=item,
        location=location,
        lot=lot,
        defaults={"counted": value, "expected": expected, "counted_at": timezone.now()},
    )
    return line


@transaction.atomic
def cycle_count_approve(*, count: CycleCount, actor: Any = None) -> list[StockMove]:
    """Approve a count: each line's variance (counted - expected) posts as a count adjustment.

    Guarantees: all variances post or none; the count can be approved once.
    """
    count = CycleCount.objects.select_for_update().get(pk=count.pk)
    if count.status not in (CycleCount.Status.OPEN, CycleCount.Status.SUBMITTED):
        raise errors.CountNotOpen("The count was already approved or cancelled.", field="count")
    moves: list[StockMove] = []
    for line in count.lines.select_related("item", "location", "lot").order_by("pk"):
        variance = line.variance
        if not variance:
            continue
        if line.item.is_serial_tracked:
            continue  # serials are counted by scanning, not by quantity; not adjusted here
        moves += stock_adjust(
            item=line.item,
            location=line.location,
            quantity_delta=variance,
            lot=line.lot,
            reason=f"cycle count {count.pk}",
            actor=actor,
            kind=StockMove.Kind.COUNT,
            reference=count.reference or f"COUNT-{count.pk}",
            reference_type="count",
        )
    CycleCount.objects.filter(pk=count.pk).update(
        status=CycleCount.Status.APPROVED,
        approved_at=timezone.now(),
        approved_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    return moves


# --- items -------------------------------------------------------------------------


@transaction.atomic
def item_create(*, sku: str, name: str, actor: Any = None, **fields: Any) -> Item:
    """Create an item (SKU unique, GTIN valid and unique), audited."""
    from django.core.exceptions import ValidationError

    if Item.objects.filter(sku=sku).exists():
        raise errors.Conflict(f"Item {sku!r} already exists.", code="duplicate", field="sku")
    item = Item(sku=sku, name=name, **fields)
    try:
        item.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise errors.InventoryError(messages[0], code="validation_failed", field=field) from exc
    item.save()
    audit_record(actor=actor, action="item.created", obj=item)
    return item


@transaction.atomic
def item_update(*, item: Item, actor: Any = None, **fields: Any) -> Item:
    """Change an item's master data (not its SKU), audited; thresholds re-checked later on the next move."""
    from django.core.exceptions import ValidationError

    item = Item.objects.select_for_update().get(pk=item.pk)
    changes = {}
    for name, value in fields.items():
        if name == "sku":
            continue
        old = getattr(item, name)
        if old != value:
            changes[name] = [str(old), str(value)]
            setattr(item, name, value)
    try:
        item.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise errors.InventoryError(messages[0], code="validation_failed", field=field) from exc
    item.save()
    if changes:
        audit_record(actor=actor, action="item.updated", obj=item, changes=changes)
    return item


def expiry_alerts_refresh(*, site: Site, days: int = 30) -> int:
    """Raise one alert per lot in stock at ``site`` expiring within ``days``; clear the rest. Returns raised."""
    from inventory.selectors import expiring_lots_internal
    from tracker.models import Alert

    raised = 0
    subjects = set()
    for row in expiring_lots_internal(site=site, days=days):
        subject = f"lot:{row['item__sku']}/{row['lot__code']}"
        subjects.add(subject)
        _, created = alert_raise(
            site=site,
            kind=EXPIRY_ALERT,
            subject=subject,
            severity=Severity.CRITICAL if row["lot__expiry_date"] < timezone.localdate() else Severity.WARNING,
            message=f"Lot {row['lot__code']} of {row['item__sku']} expires on {row['lot__expiry_date']} "
            f"({row['on_hand'].normalize():f} in stock).",
            data={"sku": row["item__sku"], "lot": row["lot__code"], "expiry_date": str(row["lot__expiry_date"])},
        )
        raised += int(created)
    for alert in Alert.objects.open().filter(site=site, kind=EXPIRY_ALERT).exclude(subject__in=subjects):
        alert_clear(site=site, kind=EXPIRY_ALERT, subject=alert.subject)
    return raised


@transaction.atomic
def reorder_alerts_refresh(*, site: Site) -> int:
    """Re-evaluate the reorder alert of every item with a threshold at ``site`` (raise once / clear)."""
    items = Item.objects.filter(active=True).filter(Q(reorder_point__gt=0) | Q(safety_stock__gt=0)).order_by("pk")
    count = 0
    for item in items:
        _check_reorder(item=item, site_id=site.pk)
        count += 1
    return count
