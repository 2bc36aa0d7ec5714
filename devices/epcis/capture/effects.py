"""Object effects: receive, move, ship or scrap what an event names, through the inventory services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from devices.epcis.capture.resolution import _in_stock, _inside, _Objects, _picked, _Resolver, _take, _Where
from devices.epcis.capture.state import _EventState, _ilmd
from devices.epcis.mapping import bare
from devices.models import TagAssignment
from devices.pipeline.effects import stations_for_zones
from inventory import errors as inv_errors
from inventory import services as stock
from inventory.models import Item, SerialUnit
from tracker.errors import DomainError
from tracker.models import Location
from wip import services as wip_services


def _receive_new(
    objects: _Objects,
    *,
    state: _EventState,
    location: Location,
    reference: tuple[str, str],
    supplier: str,
    produce: bool,
) -> None:
    lot_code, expiry = _ilmd(state.event)
    for item, serials in objects.new_serials.values():
        lot = lot_code if (item.tracking != Item.Tracking.NONE and lot_code) else None
        if produce:
            moves = stock.stock_produce(
                item=item,
                quantity=Decimal(len(serials)),
                location=location,
                serials=serials,
                lot_code=lot,
                expiry_date=expiry,
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        else:
            moves = stock.stock_receive(
                item=item,
                quantity=Decimal(len(serials)),
                location=location,
                serials=serials,
                lot_code=lot,
                expiry_date=expiry,
                reference=reference[0],
                reference_type=reference[1],
                supplier=supplier,
                occurred_at=state.at,
            )
        state.moves.extend(moves)
        state.count("produced" if produce else "received", len(serials))
    for item, _lot, code, qty, _name in objects.quantities:
        if qty is None:
            state.count("unquantified")  # "some of it" arrived: no amount to receive
            continue
        code = code or (lot_code if item.is_lot_tracked else None)
        call = stock.stock_produce if produce else stock.stock_receive
        extra: dict[str, Any] = {} if produce else {"supplier": supplier}
        moves = call(
            item=item,
            quantity=qty,
            location=location,
            lot_code=code,
            expiry_date=expiry,
            reference=reference[0],
            reference_type=reference[1],
            occurred_at=state.at,
            **extra,
        )
        state.moves.extend(moves)
        state.count("produced" if produce else "received")


def _move_units(
    units: list[SerialUnit], *, state: _EventState, destination: Location, reference: tuple[str, str]
) -> None:
    for unit in units:
        if not _in_stock(unit):
            raise inv_errors.SerialNotAvailable(
                f"Serial {unit.serial} of {unit.item.sku} is {unit.status}.", field="epcList"
            )
        if _inside(unit.location, destination):
            state.count("already_booked")
            continue
        moves = stock.stock_transfer(
            item=unit.item,
            quantity=Decimal(1),
            source=unit.location,
            destination=destination,
            serials=[unit],
            reference=reference[0],
            reference_type=reference[1],
            occurred_at=state.at,
        )
        unit.location = destination
        state.moves.extend(moves)
        state.count("transferred")


def _move_quantities(
    objects: _Objects, *, state: _EventState, destination: Location, resolver: _Resolver, reference: tuple[str, str]
) -> None:
    for item, lot, code, qty, name in objects.quantities:
        if code and lot is None:
            state.unresolved()  # a lot never received here: nothing of it to move
            continue
        # Moving inside a site leaves what it has available as it was: reservations do not limit it.
        picks = [
            p
            for p in _take(
                item,
                lot,
                qty,
                site_id=destination.site_id,
                near=None,
                resolver=resolver,
                field_name=f"{name}.quantity",
                respect_reservations=False,
            )
            if not _inside(p.location, destination)
        ]
        if len({p.location.pk for p in picks}) > 1 and qty is None:
            raise DomainError(
                f"{item.sku} is stocked in several places; which one moved is unknown.",
                code="ambiguous_source",
                field=f"{name}.epcClass",
            )
        for pick in picks:
            state.moves.extend(
                stock.stock_transfer(
                    item=item,
                    quantity=pick.quantity,
                    source=pick.location,
                    destination=destination,
                    lot=pick.lot,
                    reference=reference[0],
                    reference_type=reference[1],
                    occurred_at=state.at,
                )
            )
            state.count("transferred")


def _outbound(
    objects: _Objects,
    *,
    state: _EventState,
    resolver: _Resolver,
    location: Location | None,
    place: _Where | None,
    kind: str,
    reference: tuple[str, str],
    partner: str,
) -> None:
    """Ship or scrap: each unit from where it is, quantities from the event's place."""
    for unit in objects.units:
        if not _in_stock(unit):
            state.count("already_booked")  # already shipped / consumed: the world agrees
            continue
        if kind == "ship":
            moves = stock.stock_ship(
                item=unit.item,
                quantity=Decimal(1),
                location=unit.location,
                serials=[unit],
                reference=reference[0],
                reference_type=reference[1],
                customer=partner,
                occurred_at=state.at,
            )
        else:
            moves = stock.stock_scrap(
                item=unit.item,
                quantity=Decimal(1),
                location=unit.location,
                serials=[unit],
                reason="EPCIS " + (bare(state.event.get("bizStep")) or "DELETE"),
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        state.moves.extend(moves)
        state.count("shipped" if kind == "ship" else "scrapped")
    site_id = (location.site_id if location else (place.site_id if place else None)) or state.site_id
    for item, lot, code, qty, name in objects.quantities:
        if (code and lot is None) or site_id is None:
            state.unresolved()  # a lot never received, or taken from a place not ours
            continue
        # Scrapping may take held or expired lots (that is how they leave stock) and ignores reservations.
        for source, pick_lot, take in _picked(
            _take(
                item,
                lot,
                qty,
                site_id=site_id,
                near=location,
                resolver=resolver,
                field_name=f"{name}.quantity",
                reference=reference,
                respect_reservations=kind == "ship",
                allow_blocked=kind != "ship",
            )
        ):
            if kind == "ship":
                moves = stock.stock_ship(
                    item=item,
                    quantity=take,
                    location=source,
                    lot=pick_lot,
                    reference=reference[0],
                    reference_type=reference[1],
                    customer=partner,
                    occurred_at=state.at,
                )
            else:
                moves = stock.stock_scrap(
                    item=item,
                    quantity=take,
                    location=source,
                    lot=pick_lot,
                    reason="EPCIS " + (bare(state.event.get("bizStep")) or "DELETE"),
                    reference=reference[0],
                    reference_type=reference[1],
                    occurred_at=state.at,
                )
            state.moves.extend(moves)
            state.count("shipped" if kind == "ship" else "scrapped")


def _arrivals(epcs: list[str], *, state: _EventState, location: Location | None, resolver: _Resolver) -> None:
    """A work order's traveler or tote tag observed at a workstation: it arrives there (as a reader read would)."""
    if location is None or not epcs:
        return
    assignments = list(
        TagAssignment.objects.current()
        .filter(tag__tag_id__in=epcs, tag__site_id=location.site_id, work_order__isnull=False)
        .select_related("work_order")
    )
    if not assignments:
        return
    station = stations_for_zones({location.pk}).get(location.pk)
    if station is None:
        return
    for assignment in assignments:
        if assignment.work_order is None:  # the query selects work-order tags; a cleared one has nothing to arrive
            continue
        result = wip_services.operation_arrive(
            workstation=station, work_order=assignment.work_order, occurred_at=state.at
        )
        state.count("arrivals" if result.changed else "arrivals_ignored")
