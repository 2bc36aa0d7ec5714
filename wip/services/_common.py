"""What every wip write shares: time and quantity checks, the lock order, state guards, event payloads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from inventory.models import Item
from tracker.models import Severity
from tracker.services import alert_raise
from wip import errors
from wip.models import OperationRun, RunStatus, WorkOrder, WorkOrderStatus, Workstation

ALERT_INSPECTION_FAILED = "wip.inspection_failed"
ALERT_OVERTIME = "wip.operation_overtime"
ALERT_QUEUE_OVER_LIMIT = "wip.queue_over_limit"
ALERT_LATE = "wip.work_order_late"


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is not None and timezone.is_naive(at):
        raise errors.ValidationFailed("Times must carry a time zone.", field="occurred_at")
    return at or timezone.now()


def _qty(value: Any, *, item: Item, field: str, allow_zero: bool = False) -> Decimal:
    try:
        qty = Decimal(str(value))
    except Exception as exc:
        raise errors.ValidationFailed(f"{value!r} is not a quantity.", field=field) from exc
    if not qty.is_finite() or qty < 0 or (qty == 0 and not allow_zero):
        raise errors.ValidationFailed(
            f"The {field.replace('_', ' ')} must be {'zero or more' if allow_zero else 'more than zero'}.", field=field
        )
    if item.is_discrete and qty != qty.to_integral_value():
        raise errors.ValidationFailed(f"{item.sku} is counted in whole {item.unit}.", code="wrong_unit", field=field)
    return qty


def _lock_order(work_order: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.select_for_update(of=("self",)).select_related("item", "site").get(pk=work_order.pk)


def _lock_runs(work_order: WorkOrder) -> list[OperationRun]:
    return list(OperationRun.objects.select_for_update().filter(work_order=work_order).order_by("pk"))


def _lock_run(run: OperationRun) -> tuple[WorkOrder, OperationRun]:
    """Lock the run's work order, then the run; returns fresh copies."""
    work_order = _lock_order(WorkOrder(pk=run.work_order_id))
    fresh = (
        OperationRun.objects.select_for_update(of=("self",))
        .select_related("operation", "workstation", "workstation__location")
        .get(pk=run.pk)
    )
    return work_order, fresh


def _require_open(work_order: WorkOrder, doing: str) -> None:
    if work_order.status in (WorkOrderStatus.PLANNED,):
        raise errors.InvalidTransition(f"Work order {work_order.number} is not released yet; cannot {doing}.")
    if work_order.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED):
        raise errors.InvalidTransition(f"Work order {work_order.number} is {work_order.status}; cannot {doing}.")


def _require_not_held(work_order: WorkOrder, doing: str) -> None:
    if work_order.status == WorkOrderStatus.ON_HOLD:
        raise errors.WorkOrderOnHold(f"Work order {work_order.number} is on hold; cannot {doing}.")


def _station_ids(*workstations: Workstation | None) -> tuple[int, ...]:
    return tuple(sorted({ws.location_id for ws in workstations if ws is not None}))


def _run_payload(run: OperationRun, work_order: WorkOrder) -> dict[str, Any]:
    return {
        "work_order": work_order.number,
        "work_order_status": work_order.status,
        "run": run.pk,
        "sequence": run.sequence,
        "status": run.status,
        "workstation": run.workstation.code if run.workstation is not None else None,
    }


def _check_station_limit(station: Workstation | None, at: dt.datetime) -> None:
    """Raise the WIP-limit alert the moment a queue goes over it (the periodic
    check clears it once the station is back under). No query without a limit."""
    if station is None or station.wip_limit is None:
        return
    wip = OperationRun.objects.filter(
        workstation=station, status__in=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
    ).count()
    if wip > station.wip_limit:
        alert_raise(
            site=station.site_id,
            kind=ALERT_QUEUE_OVER_LIMIT,
            subject=f"workstation:{station.code}",
            severity=Severity.WARNING,
            message=f"{station.code} holds {wip} jobs against a WIP limit of {station.wip_limit}.",
            data={"workstation": station.code, "wip": wip, "limit": station.wip_limit},
            at=at,
        )
