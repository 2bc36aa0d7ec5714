"""How good units flow from one step to the next: new runs, releasing output forward, the issue location."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F, Sum

from tracker.models import Location
from tracker.realtime import broadcast
from wip import errors
from wip.models import (
    ZERO,
    Defect,
    Disposition,
    InspectionState,
    Operation,
    OperationRun,
    RunStatus,
    WorkOrder,
    Workstation,
)
from wip.services._common import _check_station_limit, _run_payload, _station_ids


def _next_operation(run: OperationRun) -> Operation | None:
    return (
        Operation.objects.select_related("workstation")
        .filter(routing_id=run.operation.routing_id, sequence__gt=run.sequence)
        .order_by("sequence")
        .first()
    )


def _open_defect_quantity(run: OperationRun) -> Decimal:
    total = Defect.objects.filter(run=run, disposition=Disposition.OPEN).aggregate(q=Sum("quantity"))["q"]
    return total or ZERO


def _forwardable(run: OperationRun) -> Decimal:
    """Good output of a finished run not yet passed on and not held by an open defect."""
    return max(run.good_quantity - run.released_quantity - _open_defect_quantity(run), ZERO)


def _new_run(
    *,
    work_order: WorkOrder,
    operation: Operation,
    quantity: Decimal,
    at: dt.datetime,
    status: str = RunStatus.QUEUED,
    attempt: int = 1,
    rework_of: OperationRun | None = None,
    split_from: OperationRun | None = None,
    workstation: Workstation | None = None,
    with_setup: bool = True,
) -> OperationRun:
    minutes = operation.standard_minutes(quantity) if with_setup else operation.run_minutes_per_unit * quantity
    queued = status == RunStatus.QUEUED
    return OperationRun.objects.create(
        site_id=work_order.site_id,
        work_order=work_order,
        operation=operation,
        sequence=operation.sequence,
        attempt=attempt,
        status=status,
        quantity=quantity,
        planned_minutes=minutes,
        inspection=InspectionState.PENDING if operation.inspection_required else InspectionState.NOT_REQUIRED,
        workstation=workstation if workstation is not None else (operation.workstation if queued else None),
        queued_at=at if queued else None,
        last_event_at=at if queued else None,
        rework_of=rework_of,
        split_from=split_from,
    )


def _release_forward(
    *, work_order: WorkOrder, run: OperationRun, quantity: Decimal, at: dt.datetime
) -> OperationRun | None:
    """Pass ``quantity`` of ``run``'s good output on to the next step.

    The next step's run that release made (still waiting, never queued)
    takes it; a later batch (a split upstream) gets a run of its own. Units
    coming back from rework stay rework runs up to the step that failed
    them, and are first-time runs after it (so that step's components are
    consumed for them).
    """
    if quantity <= 0:
        return None
    OperationRun.objects.filter(pk=run.pk).update(released_quantity=F("released_quantity") + quantity)
    run.released_quantity += quantity
    following = _next_operation(run)
    if following is None:
        return None
    failed_at = run.rework_of.sequence if run.rework_of is not None else None
    nxt: OperationRun | None
    if failed_at is not None and following.sequence <= failed_at:
        nxt = _new_run(
            work_order=work_order,
            operation=following,
            quantity=quantity,
            at=at,
            attempt=run.attempt,
            rework_of=run.rework_of,
        )
    else:
        nxt = (
            OperationRun.objects.select_for_update()
            .filter(
                work_order=work_order,
                sequence=following.sequence,
                status=RunStatus.WAITING,
                queued_at__isnull=True,
                attempt=1,
                rework_of__isnull=True,
            )
            .order_by("pk")
            .first()
        )
        if nxt is None:
            nxt = _new_run(work_order=work_order, operation=following, quantity=quantity, at=at)
        else:
            nxt.quantity = quantity
            nxt.planned_minutes = following.standard_minutes(quantity)
            nxt.status = RunStatus.QUEUED
            nxt.workstation = following.workstation
            nxt.queued_at = nxt.last_event_at = at
            nxt.save(
                update_fields=["quantity", "planned_minutes", "status", "workstation", "queued_at", "last_event_at"]
            )
    if nxt.workstation_id:
        nxt.workstation = Workstation.objects.select_related("location").get(pk=nxt.workstation_id)
        _check_station_limit(nxt.workstation, at)
    broadcast(
        site_id=work_order.site_id,
        type="workorder.moved",
        data={**_run_payload(nxt, work_order), "from": run.workstation.code if run.workstation is not None else None},
        station_ids=_station_ids(run.workstation, nxt.workstation),
        occurred_at=at,
    )
    return nxt


def _resolve_defect_flow(*, work_order: WorkOrder, run: OperationRun, at: dt.datetime) -> None:
    """A finished run whose defects are all decided passes its remaining good units on: a failed
    one, or a done one that is not awaiting an inspection (units an operator reported held)."""
    finished = run.status == RunStatus.FAILED or (
        run.status == RunStatus.DONE and run.inspection != InspectionState.PENDING
    )
    if finished and _open_defect_quantity(run) == 0:
        _release_forward(work_order=work_order, run=run, quantity=_forwardable(run), at=at)


def _issue_location(work_order: WorkOrder, run: OperationRun) -> Location:
    if work_order.issue_location is not None:
        return work_order.issue_location
    station = run.workstation
    if station is None:
        raise errors.ValidationFailed(
            f"Step {run.sequence} of {work_order.number} has no workstation and the order no issue location:"
            " there is no location to issue its components from.",
            field="issue_location",
        )
    return station.supply_location if station.supply_location is not None else station.location
