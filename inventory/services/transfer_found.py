"""A serial unit that went missing in transit turns up again: booked back into stock by a
person, and, when its tag is read somewhere, an alert asking a person to do so.

When a transfer order closes with a unit still travelling, the unit is written off from
in-transit to the source site's adjustment location and left ``missing``
(``transfer_order_close``). ``transfer_order_serial_found`` is the reverse of that write-off;
``transfer_order_serial_sighted`` is what a tag read of such a unit does (see its docstring
for why a read never books it by itself).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from inventory import errors
from inventory.locks import lock_levels
from inventory.models import Item, SerialUnit, StockMove, TransferDiscrepancy, TransferLine, TransferOrder
from inventory.services import transfer_serials as ts
from inventory.services.checks import _check_location
from inventory.services.posting import _Context, _Leg, _level_keys, _post, _set_serials
from inventory.services.transfers import D1, _event, _locked
from tracker.audit import audit_record
from tracker.errors import ValidationFailed
from tracker.models import Alert, Location, LocationKind
from tracker.request_context import actor_or_none
from tracker.services import alert_clear, alert_raise, virtual_location
from tracker.transactions import service_atomic

FOUND = "found"
SIGHTED_ALERT = "serial.missing_sighted"


def _subject(unit: SerialUnit) -> str:
    return f"serial:{unit.item.sku}/{unit.serial}"


def _missing_line(order: TransferOrder, serial: str, item: Item | None) -> TransferLine:
    """The serial-tracked line of ``order`` that carried ``serial`` (of ``item``, if given)."""
    lines = order.lines.filter(item__tracking=Item.Tracking.SERIAL).select_related("item", "lot", "order")
    if item is not None:
        lines = lines.filter(item=item)
    matches = [line for line in lines.order_by("pk") if any(e["serial"] == serial for e in line.serials)]
    if not matches:
        raise errors.UnknownObject(f"Serial {serial} did not travel on {order.number}.", field="serial")
    if len(matches) > 1:
        raise ValidationFailed(
            f"Serial {serial} is a serial of {len(matches)} items on {order.number}: name the item.", field="item"
        )
    return matches[0]


@service_atomic
def transfer_order_serial_found(
    *,
    order: TransferOrder,
    serial: str,
    location: Location,
    item: Item | None = None,
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """A unit that ``order`` recorded missing has turned up: book it back into stock at
    ``location``.

    Guarantees: ``serial`` (of ``item``, needed only when two items on the order share the
    code) travelled on the order (else 404 ``not_found``) and is missing now (else 409
    ``serial_not_available``, naming its state: travelling, received, or already found);
    ``location`` is a real, active location at the order's source or destination site (400
    ``invalid_location``; the API and page also limit it to the user's locations); then, in
    one transaction under the order's row lock (as every service that changes its units):

    * one ledger move of the unit from the source site's adjustment location (where the
      write-off put it) to ``location``, referencing the order (``reference``) and the
      shortfall discrepancy (``note``);
    * the unit in stock at ``location``; on the line its state is ``found``;
    * the shortfall discrepancy lists it under ``found`` (where, when, by whom, the move);
    * an audit event ``serial.found``; any open ``serial.missing_sighted`` alert for it
      (a tag read) cleared.

    The line's ``lost`` and the discrepancy's quantity stay as closed: they say what the
    order lost; the found move is the correction. A refusal writes nothing.
    """
    order = _locked(order)
    line = _missing_line(order, serial, item)
    state = next(entry.get("state") for entry in line.serials if entry["serial"] == serial)
    if state != ts.MISSING:
        why = "already found" if state == FOUND else str(state).replace("_", " ")
        raise errors.SerialNotAvailable(
            f"Serial {serial} is not missing ({why}): only a missing serial can be booked found.", field="serial"
        )
    _check_location(location, field="location")
    if location.site_id not in (order.source_site_id, order.destination_site_id):
        raise errors.InvalidLocation(
            f"Book it found at {order.source_site.code} or {order.destination_site.code}, the sites of {order.number}.",
            field="location",
        )
    adjustment = virtual_location(site=order.source_site_id, kind=LocationKind.ADJUSTMENT)
    discrepancy = next(
        (
            each
            for each in line.discrepancies.filter(kind=TransferDiscrepancy.Kind.SHORTFALL).order_by("pk")
            if serial in each.serials
        ),
        None,
    )
    # Read for the lot (the level key), then the levels locked, then the unit, as every posting does.
    read = ts.units_of(line.item, [serial]).get(serial)
    if read is None:  # a unit is never deleted while the ledger references it
        raise errors.UnknownObject(f"No serial {serial} of {line.item.sku}.", field="serial")
    leg = _Leg(line.item, D1, adjustment, location, read.lot, read)
    keys, site_ids = _level_keys([leg])
    preloaded = lock_levels(keys, site_ids=site_ids)
    unit = ts.units_of(line.item, [serial], lock=True)[serial]
    if unit.status != SerialUnit.Status.MISSING or unit.location_id != adjustment.pk or unit.lot_id != read.lot_id:
        raise errors.SerialNotAvailable(f"Serial {serial} is not missing: it is {unit.status}.", field="serial")
    where = f" (discrepancy {discrepancy.pk})" if discrepancy else ""
    ctx = _Context(
        kind=StockMove.Kind.ADJUST,
        reference=order.number,
        reference_type="transfer",
        note=f"Found: missing on {order.number}{where}",
        actor=actor,
        occurred_at=occurred_at,
    )
    moves = _post([leg], ctx, preloaded=preloaded)
    _set_serials([unit], location=location, status=SerialUnit.Status.IN_STOCK)
    ts.set_state(line, [serial], FOUND)
    TransferLine.objects.filter(pk=line.pk).update(serials=line.serials)
    found_at = occurred_at or timezone.now()
    user = actor_or_none(actor)
    if discrepancy is not None:
        entry = {
            "serial": serial,
            "location": location.code,
            "found_at": found_at.isoformat(),
            "found_by": user.get_username() if user is not None else "",
            "move": moves[0].pk,
        }
        TransferDiscrepancy.objects.filter(pk=discrepancy.pk).update(found=[*discrepancy.found, entry])
    audit_record(
        actor=actor,
        action="serial.found",
        obj=unit,
        site=location.site,
        changes={
            "status": [SerialUnit.Status.MISSING, SerialUnit.Status.IN_STOCK],
            "location": [adjustment.code, location.code],
            "transfer": order.number,
            "discrepancy": discrepancy.pk if discrepancy else None,
        },
    )
    subject = _subject(unit)
    open_sites = Alert.objects.filter(kind=SIGHTED_ALERT, subject=subject, cleared_at__isnull=True)
    for site_id in sorted(set(open_sites.values_list("site_id", flat=True))):
        alert_clear(site=site_id, kind=SIGHTED_ALERT, subject=subject, at=found_at)
    _event(order, "transfer.serial_found")
    return moves


def missing_on(unit: SerialUnit) -> TransferLine | None:
    """The line of the closed transfer order that recorded ``unit`` missing (None: not missing)."""
    if unit.status != SerialUnit.Status.MISSING:
        return None
    lines = TransferLine.objects.filter(
        item_id=unit.item_id,
        order__status=TransferOrder.Status.CLOSED,
        order__source_site_id=unit.location.site_id,
        lost__gt=0,
        serials__icontains=unit.serial,  # narrows in SQL; the state is checked below
    ).select_related("order")
    for line in lines.order_by("-order__closed_at", "-pk"):
        if any(e["serial"] == unit.serial and e.get("state") == ts.MISSING for e in line.serials):
            return line
    return None


def transfer_order_serial_sighted(
    *, unit: SerialUnit, location: Location, occurred_at: dt.datetime | None = None, reference: str = ""
) -> Alert | None:
    """A tag read placed ``unit``, recorded missing in transit, at ``location`` (usually a dock:
    it came in on a later truck, or never left the source). Raise (or bump) one alert at
    ``location``'s site naming the unit, its transfer order and where it was read, so a person
    books it found (``transfer_order_serial_found``, which clears the alert). Returns the alert,
    or None when the unit is not missing (nothing done).

    Why a read does not book it: the unit was written off and a discrepancy recorded; putting
    it back into stock changes the shipper's loss, and a tag read is weaker evidence than a
    receipt (a tag off its unit, a read through a wall, a unit on a truck passing the dock).
    A plant wants a person to look at the unit, then book it where it is put away.
    """
    if unit.status != SerialUnit.Status.MISSING:
        return None
    line = missing_on(unit)
    number = line.order.number if line is not None else None
    at = occurred_at or timezone.now()
    on = f" on {number}" if number else ""
    alert, _ = alert_raise(
        site=location.site_id,
        kind=SIGHTED_ALERT,
        subject=_subject(unit),
        message=f"Serial {unit.serial} of {unit.item.sku}, missing in transit{on}, was read at {location.code}. "
        "Check the unit and book it found.",
        data={
            "serial": unit.serial,
            "item": unit.item.sku,
            "transfer": number,
            "location": location.code,
            "read_at": at.isoformat(),
            "reference": reference,
        },
        at=at,
    )
    return alert
