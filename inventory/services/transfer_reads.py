"""A tag read of a serial unit that travels on a transfer order.

Read at a dock of the order's destination site, the unit has arrived: it is received on its
order there (a partial receipt of its line, through ``transfer_order_receive``). Read
anywhere else, it is not received; ``transfer_order_serial_read`` says what happens instead
and why. (A tagged *lot* read at the destination's dock: ``transfer_order_receive_tagged``;
a unit recorded *missing* read anywhere: ``transfer_order_serial_sighted``.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from inventory.models import SerialUnit, StockMove, TransferLine, TransferOrder
from inventory.services import transfer_serials as ts
from inventory.services.transfers import _locked, transfer_order_receive
from tracker.models import Alert, Location, LocationKind
from tracker.services import alert_raise
from tracker.transactions import service_atomic

OPEN = (TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL)


@dataclass(frozen=True, slots=True)
class SerialRead:
    """What a read of a travelling unit did: the receipt's ``moves``, or the ``alert`` raised
    (or bumped), or neither (nothing to do: not travelling, already received, or read at the
    source site)."""

    moves: list[StockMove] = field(default_factory=list)
    alert: Alert | None = None


def travelling_on(unit: SerialUnit) -> TransferLine | None:
    """The line of the open transfer order on which ``unit`` travels (None: it does not)."""
    if unit.status != SerialUnit.Status.IN_TRANSIT:
        return None
    lines = TransferLine.objects.filter(
        item_id=unit.item_id,
        order__status__in=OPEN,
        order__source_site_id=unit.location.site_id,  # in transit = at the source site's transit location
        serials__icontains=unit.serial,  # narrows in SQL; the state is checked below
    ).select_related("order", "order__source_site", "order__destination_site", "item")
    for line in lines.order_by("order__dispatched_at", "order_id", "pk"):
        if any(e["serial"] == unit.serial and e.get("state") == ts.IN_TRANSIT for e in line.serials):
            return line
    return None


@service_atomic
def transfer_order_serial_read(
    *, unit: SerialUnit, location: Location, reference: str = "", occurred_at: dt.datetime | None = None
) -> SerialRead:
    """A tag read placed ``unit``, travelling on a dispatched transfer order, at ``location``.

    * At a dock of the order's destination site: the unit has arrived. It is received on its
      order at that dock (``transfer_order_receive`` of that one serial: in-transit -> the
      dock, dated ``occurred_at``, the line partly or fully received, the status follows).
      Under the order's row lock the unit is checked still travelling, so a second read (a
      retried upload, a second reader at the dock, a read racing a person's receipt) receives
      nothing more and raises nothing.
    * At the source site (any location, its dock included): nothing. Dispatch is booked
      before the truck is loaded, so the source's readers see every dispatched unit carried
      to the dock and loaded; an alert would fire for each. A unit that never leaves shows up
      as overdue (``transfer_orders_overdue_sweep``), then missing at close, and a read of it
      then raises the missing sighting.
    * Anywhere else (the destination site away from its docks: the dock reader missed it and
      it went straight to a rack; or a third site: misrouted): not received, because a read
      there is weaker evidence than a receipt and the unit is not where receipts are booked.
      One alert (``serial.in_transit_sighted``, bumped on each further read) at the read's
      site names the unit, its order and where it was read, so a person receives it (or sends
      it on). The receipt, or the close that writes the unit off missing, clears the alert.
    """
    line = travelling_on(unit)
    if line is None:
        return SerialRead()
    order = line.order
    if location.site_id == order.source_site_id:
        return SerialRead()
    # Receipt and close change the unit under this lock (and clear its alerts): checked again
    # under it, a read racing them neither receives the unit twice nor leaves a stale alert.
    _locked(order)
    if unit.serial not in ts.serials_in(TransferLine.objects.get(pk=line.pk), ts.IN_TRANSIT):
        return SerialRead()  # received (or written off) meanwhile
    if location.site_id == order.destination_site_id and location.kind == LocationKind.DOCK:
        moves = transfer_order_receive(
            order=order,
            lines=[{"line": line.pk, "serials": [unit.serial]}],
            location=location,
            occurred_at=occurred_at,
        )
        return SerialRead(moves=moves)
    at = occurred_at or timezone.now()
    alert, _ = alert_raise(
        site=location.site_id,
        kind=ts.IN_TRANSIT_SIGHTED_ALERT,
        subject=ts.serial_subject(line.item.sku, unit.serial),
        message=f"Serial {unit.serial} of {line.item.sku}, in transit on {order.number} from "
        f"{order.source_site.code} to {order.destination_site.code}, was read at {location.code}. "
        f"Receive it on the order (or send it on to {order.destination_site.code}).",
        data={
            "serial": unit.serial,
            "item": line.item.sku,
            "transfer": order.number,
            "location": location.code,
            "read_at": at.isoformat(),
            "reference": reference,
        },
        at=at,
    )
    return SerialRead(alert=alert)
