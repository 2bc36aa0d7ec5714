"""Every write that changes stock. The only code that posts moves or changes levels.

Common guarantees of the ``stock_*`` services:

* all-or-nothing: one transaction (``@service_atomic``, not durable, so an
  API create can wrap it with its Idempotency-Key record; there it joins the
  request's transaction without a savepoint, ``tracker.transactions``);
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

One module per concern, all re-exported here (``from inventory import services``
keeps working): ``checks`` (validation), ``picking`` (``stock_pick``, the one rule
for which stock to take; availability), ``posting`` (``_post``: moves, levels,
publishing), ``outbound`` (issue, ship, scrap), ``movements`` (receive, transfer,
adjust, produce), ``reservations``, ``lots`` (status, recall), ``documents``
(multi-line receipts and shipments), ``counts``, ``items``, ``alerts``, ``transfers``
(transfer orders; their units in ``transfer_serials``; a missing unit found again in
``transfer_found``).
"""

from __future__ import annotations

from inventory import errors
from inventory.services.alerts import (
    EXPIRY_ALERT,
    REORDER_ALERT,
    _check_reorder,
    expiry_alerts_refresh,
    reorder_alerts_refresh,
)
from inventory.services.checks import (
    QUANTUM,
    _check_item,
    _check_location,
    _check_lot_for_item,
    _check_lot_usable,
    _check_serial_count,
    _existing_serials,
    _new_serials,
    _quantity,
    _serial_codes,
    check_unit,
)
from inventory.services.counts import cycle_count_approve, cycle_count_create, cycle_count_record
from inventory.services.documents import _lock_order, receipt_create, shipment_create
from inventory.services.items import item_create, item_update
from inventory.services.lots import (
    RecallResult,
    ZoneHold,
    _downstream,
    _lot_for_receipt,
    lot_recall,
    lot_set_status,
    serial_hold_release,
    zone_contents_hold,
)
from inventory.services.movements import (
    _consumed_entries,
    _receipt_legs,
    stock_adjust,
    stock_produce,
    stock_receive,
    stock_transfer,
)
from inventory.services.outbound import (
    _ISSUE,
    _SCRAP,
    _SHIP,
    _Outbound,
    _outbound,
    stock_issue,
    stock_scrap,
    stock_ship,
)
from inventory.services.picking import (
    Pick,
    Picking,
    _fefo_key,
    _inside,
    _others_reservations,
    _site_lock_q,
    site_available,
    stock_pick,
)
from inventory.services.posting import _broadcast_moves, _Context, _Leg, _post, _resolve_serial_lot_legs, _set_serials
from inventory.services.reservations import (
    _consume_reservations,
    _reservation_reduce,
    _settle_reservation,
    stock_release_reservation,
    stock_reserve,
)
from inventory.services.transfer_found import (
    SIGHTED_ALERT,
    transfer_order_serial_found,
    transfer_order_serial_sighted,
)
from inventory.services.transfer_reads import SerialRead, transfer_order_serial_read
from inventory.services.transfer_serials import IN_TRANSIT_SIGHTED_ALERT
from inventory.services.transfers import (
    transfer_order_close,
    transfer_order_create,
    transfer_order_dispatch,
    transfer_order_receive,
    transfer_order_receive_tagged,
    transfer_orders_overdue_sweep,
)

# Re-exported for tests that patch ``inventory.services.broadcast``: the modules publish through it.
from tracker.realtime import broadcast

__all__ = [
    "EXPIRY_ALERT",
    "Pick",
    "Picking",
    "QUANTUM",
    "REORDER_ALERT",
    "RecallResult",
    "_Context",
    "_ISSUE",
    "_Leg",
    "_Outbound",
    "_SCRAP",
    "_SHIP",
    "_broadcast_moves",
    "_check_item",
    "_check_location",
    "_check_lot_for_item",
    "_check_lot_usable",
    "_check_reorder",
    "_check_serial_count",
    "_consume_reservations",
    "_consumed_entries",
    "_downstream",
    "_existing_serials",
    "_fefo_key",
    "_inside",
    "_lock_order",
    "_lot_for_receipt",
    "_new_serials",
    "_others_reservations",
    "_outbound",
    "_post",
    "_quantity",
    "_receipt_legs",
    "_reservation_reduce",
    "_resolve_serial_lot_legs",
    "_serial_codes",
    "_set_serials",
    "_settle_reservation",
    "_site_lock_q",
    "broadcast",
    "check_unit",
    "cycle_count_approve",
    "cycle_count_create",
    "cycle_count_record",
    "errors",
    "expiry_alerts_refresh",
    "item_create",
    "item_update",
    "lot_recall",
    "lot_set_status",
    "serial_hold_release",
    "zone_contents_hold",
    "transfer_order_close",
    "transfer_order_create",
    "transfer_order_dispatch",
    "transfer_order_receive",
    "transfer_order_receive_tagged",
    "transfer_order_serial_found",
    "transfer_order_serial_sighted",
    "SIGHTED_ALERT",
    "IN_TRANSIT_SIGHTED_ALERT",
    "SerialRead",
    "transfer_order_serial_read",
    "transfer_orders_overdue_sweep",
    "ZoneHold",
    "receipt_create",
    "reorder_alerts_refresh",
    "shipment_create",
    "site_available",
    "stock_adjust",
    "stock_issue",
    "stock_pick",
    "stock_produce",
    "stock_receive",
    "stock_release_reservation",
    "stock_reserve",
    "stock_scrap",
    "stock_ship",
    "stock_transfer",
]
