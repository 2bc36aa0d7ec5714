"""Receive, transfer, adjust and produce."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from inventory import errors
from inventory.locks import lock_levels
from inventory.models import ZERO, GenealogyLink, Item, Lot, SerialUnit, StockMove
from inventory.services.checks import (
    _check_item,
    _check_location,
    _check_lot_for_item,
    _check_lot_usable,
    _check_serial_count,
    _new_serials,
    _quantity,
)
from inventory.services.lots import _lot_for_receipt
from inventory.services.picking import _site_lock_q, site_available
from inventory.services.posting import _Context, _Leg, _level_keys, _post, _resolve_serial_lot_legs, _set_serials
from tracker.models import Location, LocationKind
from tracker.services import virtual_location
from tracker.transactions import service_atomic


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


@service_atomic
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


@service_atomic
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
        # One lock call for the site's rows and every key the legs change (new rows inserted first).
        keys, site_ids = _level_keys(legs)
        preloaded = lock_levels(keys, site_ids=site_ids, also=_site_lock_q(item, source.site_id))
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


@service_atomic
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
    entries: list[tuple[Item, Lot | None, SerialUnit | None, Decimal | None]] = []
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


@service_atomic
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
