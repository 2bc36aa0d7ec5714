"""Holds on a work order or a lot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inventory import services as stock
from inventory.models import Lot
from tracker.audit import audit_record
from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.transactions import service_atomic
from wip import errors
from wip.models import Hold, OperationRun, RunStatus, WorkOrder, WorkOrderStatus, Workstation
from wip.services._common import _lock_order, _now, _station_ids
from wip.services.states import station_runs_sync


@service_atomic
def hold_place(
    *,
    reason: str,
    work_order: WorkOrder | None = None,
    lot: Lot | None = None,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Hold:
    """Stop a work order (its running steps pause; nothing starts or completes
    until every hold on it is released) or a lot (through inventory's lot
    status ``on_hold``, so it cannot be issued)."""
    at = _now(at)
    if (work_order is None) == (lot is None):
        raise errors.ValidationFailed("Hold a work order or a lot.", field="work_order")
    if not (reason or "").strip():
        raise errors.ValidationFailed("Say why.", field="reason")
    user = actor_or_none(actor)
    if lot is not None:
        hold = Hold.objects.create(site_id=lot.site_id, lot=lot, reason=reason, placed_by=user, placed_at=at)
        stock.lot_set_status(lot=lot, status=Lot.Status.ON_HOLD, reason=reason, actor=actor)
        return hold
    if work_order is None:  # one of the two, checked above; this narrows the type
        raise errors.ValidationFailed("Hold a work order or a lot.", field="work_order")
    work_order = _lock_order(work_order)
    if work_order.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED):
        raise errors.InvalidTransition(f"Work order {work_order.number} is {work_order.status}; it cannot be held.")
    hold = Hold.objects.create(
        site_id=work_order.site_id, work_order=work_order, reason=reason, placed_by=user, placed_at=at
    )
    if work_order.status != WorkOrderStatus.ON_HOLD:
        work_order.status_before_hold = work_order.status
        work_order.status = WorkOrderStatus.ON_HOLD
        work_order.save(update_fields=["status", "status_before_hold", "updated_at"])
    running = list(
        OperationRun.objects.select_for_update().filter(work_order=work_order, status=RunStatus.RUNNING).order_by("pk")
    )
    OperationRun.objects.filter(pk__in=[r.pk for r in running]).update(
        status=RunStatus.PAUSED, paused_at=at, last_event_at=at
    )
    stations = Workstation.objects.select_related("location").filter(pk__in=[r.workstation_id for r in running])
    for station in stations:
        station_runs_sync(workstation=station, at=at)
    audit_record(actor=actor, action="workorder.held", obj=work_order, site=work_order.site, changes={"reason": reason})
    broadcast(
        site_id=work_order.site_id,
        type="workorder.held",
        data={"work_order": work_order.number, "work_order_status": work_order.status, "reason": reason},
        station_ids=_station_ids(*stations),
        occurred_at=at,
    )
    return hold


@service_atomic
def hold_release(*, hold: Hold, actor: Any = None, note: str = "", at: dt.datetime | None = None) -> Hold:
    """Release a hold; the order returns to where it was when the last hold is gone
    (paused steps stay paused until resumed); a lot becomes available again."""
    at = _now(at)
    if hold.work_order is not None:
        work_order = _lock_order(hold.work_order)
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise errors.InvalidTransition(f"Hold {hold.pk} is already released.")
    hold.released_at = at
    hold.released_by = actor_or_none(actor)
    hold.release_note = note
    hold.save(update_fields=["released_at", "released_by", "release_note"])
    if hold.lot_id:
        if not Hold.objects.open().filter(lot_id=hold.lot_id).exists() and hold.lot is not None:
            stock.lot_set_status(lot=hold.lot, status=Lot.Status.AVAILABLE, reason=note or "hold released", actor=actor)
        return hold
    if work_order.status == WorkOrderStatus.ON_HOLD and not Hold.objects.open().filter(work_order=work_order).exists():
        work_order.status = work_order.status_before_hold or WorkOrderStatus.RELEASED
        work_order.status_before_hold = ""
        work_order.save(update_fields=["status", "status_before_hold", "updated_at"])
    audit_record(actor=actor, action="workorder.hold_released", obj=work_order, site=work_order.site)
    broadcast(
        site_id=work_order.site_id,
        type="workorder.hold_released",
        data={"work_order": work_order.number, "work_order_status": work_order.status},
        occurred_at=at,
    )
    return hold
