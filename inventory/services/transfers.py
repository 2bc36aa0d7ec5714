"""Transfer orders between sites: create, dispatch, receive (in full or in part), close,
and the sweep that reports transfers not received within the destination's transit time.

The ledger legs (rules of DESIGN.md section 1): dispatch posts source -> the source
site's in-transit location; a receipt posts in-transit -> the destination; an overage
(more arrived than travelled) comes from the destination site's adjustment location;
closing writes what never arrived off from in-transit to the source site's adjustment
location (a loss in transit is the shipper's). Every quantity through ``_post``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory import errors
from inventory.locks import lock_levels
from inventory.models import (
    ZERO,
    Item,
    Lot,
    SerialUnit,
    StockMove,
    TransferDiscrepancy,
    TransferLine,
    TransferOrder,
)
from inventory.services import transfer_serials as ts
from inventory.services.checks import (
    _check_item,
    _check_location,
    _check_lot_for_item,
    _check_lot_usable,
    _check_serial_count,
    _quantity,
)
from inventory.services.picking import _site_lock_q, site_available
from inventory.services.posting import _Context, _Leg, _level_keys, _post, _publish, _set_serials
from tracker.audit import audit_record
from tracker.errors import ValidationFailed
from tracker.models import Location, LocationKind
from tracker.request_context import actor_or_none
from tracker.services import alert_raise, virtual_location
from tracker.transactions import service_atomic

OVERDUE_ALERT = "transfer.overdue"
D1 = Decimal(1)  # one serial unit


def _number(pk: int) -> str:
    # From the row's own id, not a count: two orders created at once never share a number.
    return f"TO-{timezone.now():%Y%m%d}-{pk:05d}"


@service_atomic
def transfer_order_create(
    *,
    source: Location,
    destination: Location,
    lines: Sequence[dict[str, Any]],
    reference: str = "",
    number: str = "",
    actor: Any = None,
) -> TransferOrder:
    """A draft transfer of ``lines`` (item, quantity, lot) from ``source`` to ``destination``
    at another site. Guarantees: real, active locations at two different sites; each line's
    quantity and lot valid for its item (a serial-tracked item's units are named at dispatch);
    every bad line named (``LinesInvalid``); nothing moves until dispatch."""
    _check_location(source, field="source")
    _check_location(destination, field="destination")
    if source.site_id == destination.site_id:
        raise errors.InvalidLocation("A transfer order goes to another site.", field="destination")
    if not lines:
        raise ValidationFailed("A transfer order needs at least one line.", field="lines")
    bad: list[tuple[int, Any]] = []
    rows: list[TransferLine] = []
    for index, line in enumerate(lines):
        try:
            item: Item = line["item"]
            _check_item(item)
            qty = _quantity(item, line["quantity"])
            if item.is_serial_tracked and qty != qty.to_integral_value():
                raise errors.InvalidQuantity(
                    f"{item.sku} is serial-tracked: a whole number of units.", field="quantity"
                )
            lot: Lot | None = line.get("lot")
            _check_lot_for_item(item, lot, required=True)
            rows.append(TransferLine(item=item, lot=lot, quantity=qty))
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    if number and TransferOrder.objects.filter(number=number).exists():
        raise errors.Conflict(f"Transfer order {number} already exists.", field="number")
    order = TransferOrder.objects.create(
        number=number or f"pending-{uuid.uuid4().hex}",
        reference=reference,
        source_site_id=source.site_id,
        destination_site_id=destination.site_id,
        source=source,
        destination=destination,
        created_by=actor_or_none(actor),
    )
    if not number:
        order.number = _number(order.pk)
        TransferOrder.objects.filter(pk=order.pk).update(number=order.number)
    for row in rows:
        row.order = order
    TransferLine.objects.bulk_create(rows)
    return order


def _locked(order: TransferOrder) -> TransferOrder:
    return (
        TransferOrder.objects.select_for_update(of=("self",)).select_related("source", "destination").get(pk=order.pk)
    )


def _ctx(
    order: TransferOrder, actor: Any, occurred_at: dt.datetime | None, kind: str = StockMove.Kind.TRANSFER
) -> _Context:
    return _Context(kind=kind, reference=order.number, reference_type="transfer", actor=actor, occurred_at=occurred_at)


@service_atomic
def transfer_order_dispatch(
    *,
    order: TransferOrder,
    serials: Mapping[int, Sequence[Any]] | None = None,
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Stock leaves the source into the source site's in-transit location, all lines or none.

    ``serials``: per line id, the serials of a serial-tracked line (as many as its quantity).

    Guarantees: a draft only (``invalid_transition`` otherwise); lots usable (not held,
    not expired); the source site's availability (reservations stay) covers each line;
    each named serial in stock at the source (not already in transit), named once, and
    afterwards in transit with the order (``TransferLine.serials``); every bad line named;
    ``expected_by`` = dispatch + the destination site's ``expected_transit_hours``.
    """
    order = _locked(order)
    if order.status != TransferOrder.Status.DRAFT:
        raise errors.CountNotOpen("Only a draft transfer order can be dispatched.", field="status")
    transit = virtual_location(site=order.source_site_id, kind=LocationKind.TRANSIT)
    lines = list(order.lines.select_related("item", "lot").order_by("item_id", "pk"))
    named = dict(serials or {})
    if set(named) - {line.pk for line in lines}:
        raise errors.UnknownObject("Serials named for a line that is not on this order.", field="lines")
    bad: list[tuple[int, Any]] = []
    codes: dict[int, list[str]] = {}
    units: dict[int, list[SerialUnit]] = {}
    taken: set[tuple[int, str]] = set()
    for index, line in enumerate(lines):
        try:
            if not line.item.is_serial_tracked:
                _check_serial_count(line.item, line.quantity, named.get(line.pk))
                continue
            codes[line.pk] = ts.dispatch_codes(line, named.get(line.pk), taken=taken)
            # Read without a lock for the level keys (the units' lots); checked again under lock below.
            found = ts.units_of(line.item, codes[line.pk])
            units[line.pk] = ts.check_dispatchable(line, codes[line.pk], found, source=order.source)
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    legs: list[_Leg] = []
    for line in lines:
        if line.pk in units:
            legs += [_Leg(line.item, D1, order.source, transit, unit.lot, unit) for unit in units[line.pk]]
        else:
            legs.append(_Leg(line.item, line.quantity, order.source, transit, line.lot))
    # Every lock in one call, before any check: the levels the legs change (a missing in-transit
    # row is inserted first) and every level of each checked item at the source site.
    keys, site_ids = _level_keys(legs)
    also = Q(pk__in=[])
    for item in sorted({line.item for line in lines if not line.item.allow_negative}, key=lambda each: each.pk):
        also |= _site_lock_q(item, order.source_site_id)
    preloaded = lock_levels(keys, site_ids=site_ids, also=also)
    for index, line in enumerate(lines):
        try:
            if line.pk in units:  # the same units, now locked, still where they were
                locked = ts.units_of(line.item, codes[line.pk], lock=True)
                again = ts.check_dispatchable(line, codes[line.pk], locked, source=order.source)
                if [unit.lot_id for unit in again] != [unit.lot_id for unit in units[line.pk]]:
                    raise errors.SerialNotAvailable("A serial changed lot while being dispatched.", field="serials")
            if line.lot is not None:
                _check_lot_usable(line.lot)
            for lot in {unit.lot for unit in units.get(line.pk, []) if unit.lot is not None}:
                _check_lot_usable(lot, field="serials")
            if not line.item.allow_negative:
                available = site_available(item=line.item, site_id=order.source_site_id, lot=line.lot)
                if available < line.quantity:
                    raise errors.InsufficientStock(
                        f"Only {max(available, ZERO).normalize():f} {line.item.unit} of {line.item.sku} available"
                        f" at {order.source.site.code}.",
                        field="quantity",
                    )
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    moves = _post(legs, _ctx(order, actor, occurred_at), preloaded=preloaded)
    for line in lines:
        if line.pk in units:
            _set_serials(units[line.pk], location=transit, status=SerialUnit.Status.IN_TRANSIT)
            line.serials = [{"serial": code, "state": ts.IN_TRANSIT} for code in codes[line.pk]]
            TransferLine.objects.filter(pk=line.pk).update(serials=line.serials)
    now = occurred_at or timezone.now()
    hours = order.destination.site.expected_transit_hours
    TransferOrder.objects.filter(pk=order.pk).update(
        status=TransferOrder.Status.IN_TRANSIT, dispatched_at=now, expected_by=now + dt.timedelta(hours=hours)
    )
    _event(order, "transfer.dispatched")
    return moves


def _event(order: TransferOrder, kind: str) -> None:
    for site_id in (order.source_site_id, order.destination_site_id):
        _publish(site_id=site_id, type=kind, data={"transfer": {"number": order.number, "status": kind}})


@service_atomic
def transfer_order_receive(
    *,
    order: TransferOrder,
    lines: Sequence[dict[str, Any]],
    location: Location | None = None,
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Receive at the destination what arrived: per line (``line`` id or ``item`` and ``lot``)
    a ``quantity`` and, for more than was still travelling, a ``reason`` (an overage, booked
    from the destination site's adjustment location and recorded as a discrepancy); for a
    serial-tracked line, the ``serials`` that arrived (each still travelling on the line; no
    overage: a unit not dispatched on the order is refused), in stock where received.

    Guarantees: an order in transit or partly received; ``location`` (default: the order's
    destination) at the destination site; each line received at most what travelled plus a
    reasoned overage; all lines or none (every bad line named); the status follows; a received
    unit's open in-transit sighting alerts (``transfer_reads``) are cleared.
    """
    order = _locked(order)
    if order.status not in (TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL):
        raise errors.CountNotOpen("Only a transfer in transit can be received.", field="status")
    where = location or order.destination
    _check_location(where, field="location")
    if where.site_id != order.destination_site_id:
        raise errors.InvalidLocation("Receive at the destination site.", field="location")
    transit = virtual_location(site=order.source_site_id, kind=LocationKind.TRANSIT)
    adjustment = virtual_location(site=order.destination_site_id, kind=LocationKind.ADJUSTMENT)
    by_id = {line.pk: line for line in order.lines.select_related("item", "lot", "order")}
    legs: list[_Leg] = []
    overages: list[tuple[TransferLine, Decimal, str]] = []
    received: dict[int, Decimal] = {}
    arriving: dict[int, list[SerialUnit]] = {}
    taken: set[tuple[int, str]] = set()
    bad: list[tuple[int, Any]] = []
    for index, wanted in enumerate(lines):
        try:
            line = _line_of(by_id, wanted)
            if line.item.is_serial_tracked:
                arrived = ts.arriving_units(line, wanted.get("serials"), transit=transit, taken=taken)
                if wanted.get("quantity") is not None and _quantity(line.item, wanted["quantity"]) != len(arrived):
                    raise errors.SerialCountMismatch(
                        f"{len(arrived)} serials for a quantity of {wanted['quantity']}.", field="serials"
                    )
                legs += [_Leg(line.item, D1, transit, where, unit.lot, unit) for unit in arrived]
                arriving.setdefault(line.pk, []).extend(arrived)
                received[line.pk] = received.get(line.pk, ZERO) + len(arrived)
                continue
            _check_serial_count(line.item, ZERO, wanted.get("serials"))
            qty = _quantity(line.item, wanted.get("quantity"))
            travelling = line.in_transit - received.get(line.pk, ZERO)
            regular, extra = min(qty, max(travelling, ZERO)), max(qty - max(travelling, ZERO), ZERO)
            if extra and not (wanted.get("reason") or "").strip():
                raise errors.ReasonRequired(
                    f"{extra.normalize():f} {line.item.unit} more than travelled: give the reason (overage).",
                    field="reason",
                )
            if regular:
                legs.append(_Leg(line.item, regular, transit, where, line.lot))
            if extra:
                legs.append(_Leg(line.item, extra, adjustment, where, line.lot))
                overages.append((line, extra, wanted["reason"].strip()))
            received[line.pk] = received.get(line.pk, ZERO) + qty
        except (errors.ValidationFailed, errors.Conflict, errors.NotFound) as exc:
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    moves = _post(legs, _ctx(order, actor, occurred_at))
    for pk, qty in received.items():
        TransferLine.objects.filter(pk=pk).update(received=F("received") + qty)
    for pk, arrived in arriving.items():
        _set_serials(arrived, location=where, status=SerialUnit.Status.IN_STOCK)
        ts.set_state(by_id[pk], [unit.serial for unit in arrived], ts.RECEIVED)
        TransferLine.objects.filter(pk=pk).update(serials=by_id[pk].serials)
        ts.clear_in_transit_sightings(by_id[pk], [unit.serial for unit in arrived], at=occurred_at)
    TransferDiscrepancy.objects.bulk_create(
        TransferDiscrepancy(
            line=line,
            kind=TransferDiscrepancy.Kind.OVERAGE,
            quantity=qty,
            reason=reason[:500],
            recorded_by=actor_or_none(actor),
        )
        for line, qty, reason in overages
    )
    _settle_status(order)
    _event(order, "transfer.received")
    return moves


def _line_of(by_id: dict[int, TransferLine], wanted: dict[str, Any]) -> TransferLine:
    if wanted.get("line") is not None:
        line = by_id.get(wanted["line"])
        if line is None:
            raise errors.UnknownObject("No such line on this transfer order.", field="line")
        return line
    item, lot = wanted.get("item"), wanted.get("lot")
    matches = [
        each
        for each in by_id.values()
        if each.item_id == getattr(item, "pk", None) and each.lot_id == getattr(lot, "pk", None)
    ]
    if len(matches) != 1:
        raise errors.UnknownObject("Name the line (or an item and lot on the order once).", field="line")
    return matches[0]


def _settle_status(order: TransferOrder) -> None:
    lines = list(order.lines.all())
    travelling = any(line.quantity - line.received - line.lost > 0 for line in lines)
    status = TransferOrder.Status.PARTIAL if travelling else TransferOrder.Status.RECEIVED
    TransferOrder.objects.filter(pk=order.pk).update(status=status)


@service_atomic
def transfer_order_close(
    *, order: TransferOrder, reason: str, actor: Any = None, occurred_at: dt.datetime | None = None
) -> list[StockMove]:
    """Close a transfer: what still travels is a shortfall, written off from in-transit to the
    source site's adjustment location and recorded (with ``reason``) per line.

    Guarantees: a reason; an order dispatched and not closed (a draft closes with nothing
    to write off); afterwards nothing of it is in transit: a serial-tracked line's units still
    travelling are written off one by one, named on the discrepancy, left ``missing`` at the
    source site's adjustment location, and each audited (``serial.missing_in_transit``); their
    open in-transit sighting alerts cleared (a read of one now raises the missing sighting).
    """
    if not reason.strip():
        raise errors.ReasonRequired("Say why the transfer is closed (e.g. lost in transit).", field="reason")
    order = _locked(order)
    if order.status == TransferOrder.Status.CLOSED:
        raise errors.CountNotOpen("The transfer order is closed.", field="status")
    transit = virtual_location(site=order.source_site_id, kind=LocationKind.TRANSIT)
    loss = virtual_location(site=order.source_site_id, kind=LocationKind.ADJUSTMENT)
    short = [(line, line.in_transit) for line in order.lines.select_related("item", "lot", "order").order_by("pk")]
    short = [(line, qty) for line, qty in short if qty > 0]
    missing = {line.pk: ts.units_of(line.item, ts.serials_in(line, ts.IN_TRANSIT)) for line, _ in short if line.serials}
    legs: list[_Leg] = []
    for line, qty in short:
        if line.pk in missing:
            legs += [_Leg(line.item, D1, transit, loss, unit.lot, unit) for unit in missing[line.pk].values()]
        else:
            legs.append(_Leg(line.item, qty, transit, loss, line.lot))
    moves = _post(legs, _ctx(order, actor, occurred_at, kind=StockMove.Kind.ADJUST))
    for line, qty in short:
        TransferLine.objects.filter(pk=line.pk).update(lost=F("lost") + qty)
    for line, _ in short:
        if line.pk in missing:
            _serials_missing(order, line, list(missing[line.pk].values()), loss=loss, reason=reason, actor=actor)
            ts.clear_in_transit_sightings(line, missing[line.pk], at=occurred_at)
    TransferDiscrepancy.objects.bulk_create(
        TransferDiscrepancy(
            line=line,
            kind=TransferDiscrepancy.Kind.SHORTFALL,
            quantity=qty,
            reason=reason.strip()[:500],
            serials=sorted(missing.get(line.pk, {})),
            recorded_by=actor_or_none(actor),
        )
        for line, qty in short
    )
    TransferOrder.objects.filter(pk=order.pk).update(
        status=TransferOrder.Status.CLOSED, closed_at=occurred_at or timezone.now(), close_reason=reason.strip()[:500]
    )
    _event(order, "transfer.closed")
    return moves


def _serials_missing(
    order: TransferOrder, line: TransferLine, units: list[SerialUnit], *, loss: Location, reason: str, actor: Any
) -> None:
    _set_serials(units, location=loss, status=SerialUnit.Status.MISSING)
    ts.set_state(line, [unit.serial for unit in units], ts.MISSING)
    TransferLine.objects.filter(pk=line.pk).update(serials=line.serials)
    for unit in units:
        audit_record(
            actor=actor,
            action="serial.missing_in_transit",
            obj=unit,
            site=order.source_site,
            changes={
                "status": [SerialUnit.Status.IN_TRANSIT, SerialUnit.Status.MISSING],
                "transfer": order.number,
                "reason": reason.strip()[:500],
            },
        )


def transfer_orders_overdue_sweep(*, now: dt.datetime | None = None) -> int:
    """Raise one alert at the destination site per transfer still travelling past its
    ``expected_by`` (each once: ``overdue_alerted_at``). Returns how many were raised."""
    now = now or timezone.now()
    raised = 0
    overdue = TransferOrder.objects.filter(
        status__in=[TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL],
        expected_by__lt=now,
        overdue_alerted_at__isnull=True,
    ).select_related("source_site", "destination_site")
    for order in overdue.order_by("pk"):
        with transaction.atomic():
            if not TransferOrder.objects.filter(pk=order.pk, overdue_alerted_at__isnull=True).update(
                overdue_alerted_at=now
            ):
                continue  # another sweep took it
            alert_raise(
                site=order.destination_site_id,
                kind=OVERDUE_ALERT,
                subject=f"transfer:{order.number}",
                message=f"Transfer {order.number} from {order.source_site.code} was expected by "
                f"{order.expected_by.isoformat(timespec='minutes') if order.expected_by else '?'} and is not received.",
                data={
                    "transfer": order.number,
                    "expected_by": order.expected_by.isoformat() if order.expected_by else None,
                },
                at=now,
            )
            raised += 1
    return raised


@service_atomic
def transfer_order_receive_tagged(
    *, lot: Lot, location: Location, reference: str = "", occurred_at: dt.datetime | None = None
) -> list[StockMove]:
    """A tagged lot was read at a dock of a site it travels to: receive, on the oldest open
    transfer order to that site that still has it in transit, all of it that travels
    (``transfer_order_receive``). Nothing travelling there: nothing happens ([]).
    """
    if location.kind != LocationKind.DOCK:
        return []
    line = (
        TransferLine.objects.filter(
            lot=lot,
            order__destination_site_id=location.site_id,
            order__status__in=[TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL],
        )
        .exclude(item__tracking=Item.Tracking.SERIAL)  # units are received by their serials, not a lot read
        .select_related("order", "item", "lot")
        .order_by("order__dispatched_at", "order_id", "pk")
        .first()
    )
    if line is None or line.in_transit <= 0:
        return []
    return transfer_order_receive(
        order=line.order,
        lines=[{"line": line.pk, "quantity": line.in_transit}],
        location=location,
        occurred_at=occurred_at,
    )
