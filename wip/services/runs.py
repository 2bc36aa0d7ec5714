"""Operation runs: arrive at a station, start, pause, resume, complete (issuing components), skip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F

from inventory import services as stock
from tracker.audit import audit_record
from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.services import alert_clear
from tracker.transactions import service_atomic
from wip import errors
from wip.models import (
    ZERO,
    Defect,
    Disposition,
    InspectionState,
    MaterialIssue,
    Operation,
    OperationRun,
    RunStatus,
    WorkOrder,
    WorkOrderStatus,
    Workstation,
)
from wip.services._common import (
    ALERT_OVERTIME,
    _check_station_limit,
    _lock_order,
    _lock_run,
    _now,
    _qty,
    _require_not_held,
    _require_open,
    _run_payload,
    _station_ids,
)
from wip.services.flow import _forwardable, _issue_location, _new_run, _release_forward
from wip.services.states import station_runs_sync


@dataclass(frozen=True)
class ArrivalResult:
    """What an arrival did: ``changed`` is False for a repeat or a stale read."""

    run: OperationRun | None
    changed: bool
    reason: str  # "arrived", "already_here", "stale", "wrong_station", "not_ready", "not_open"


@service_atomic
def operation_arrive(
    *,
    workstation: Workstation,
    work_order: WorkOrder,
    occurred_at: dt.datetime | None = None,
    actor: Any = None,
    strict: bool = False,
) -> ArrivalResult:
    """The work order arrived at ``workstation`` (a scan, a tag read or a click):
    its current step is queued there.

    Idempotent: arriving where it already is (queued, running or paused
    there) changes nothing, and an arrival older than the run's last change
    is ignored (a late device read). With ``strict`` (pages and the API) an
    arrival that cannot apply raises ``wrong_station`` / ``invalid_transition``;
    without it (the device pipeline) it returns ``changed=False`` and a reason,
    so a tag passing a station it has no business at is history, not an error.
    """
    at = _now(occurred_at)
    work_order = _lock_order(work_order)
    if not work_order.is_open:
        if strict:
            _require_open(work_order, "arrive at a station")
        return ArrivalResult(None, False, "not_open")
    if workstation.site_id != work_order.site_id:
        raise errors.WrongStation(f"{workstation.code} is at another site.", field="workstation")
    runs = list(
        OperationRun.objects.select_for_update(of=("self",))
        .select_related("operation", "workstation")
        .filter(
            work_order=work_order, status__in=(RunStatus.WAITING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
        )
        .order_by("pk")
    )
    runs.sort(key=lambda r: (r.sequence, r.pk))
    for run in runs:
        if run.workstation_id == workstation.pk and run.status in (
            RunStatus.QUEUED,
            RunStatus.RUNNING,
            RunStatus.PAUSED,
        ):
            return ArrivalResult(run, False, "already_here")
    target = next((r for r in runs if r.status == RunStatus.QUEUED and r.operation.accepts(workstation)), None)
    if target is None:
        waiting = any(r.status == RunStatus.WAITING and r.operation.accepts(workstation) for r in runs)
        reason = "not_ready" if waiting else "wrong_station"
        if strict:
            if waiting:
                raise errors.PredecessorNotDone(
                    f"{work_order.number} has nothing ready for {workstation.code}: the previous step is not done."
                )
            raise errors.WrongStation(
                f"{work_order.number} has no step to do at {workstation.code}.", field="workstation"
            )
        return ArrivalResult(None, False, reason)
    if target.last_event_at is not None and at < target.last_event_at:
        return ArrivalResult(target, False, "stale")
    previous = target.workstation
    target.workstation = workstation
    target.queued_at = target.last_event_at = at
    target.save(update_fields=["workstation", "queued_at", "last_event_at"])
    _check_station_limit(workstation, at)
    broadcast(
        site_id=work_order.site_id,
        type="workorder.moved",
        data={**_run_payload(target, work_order), "from": previous.code if previous else None},
        station_ids=_station_ids(previous, workstation),
        occurred_at=at,
    )
    return ArrivalResult(target, True, "arrived")


def _check_operator(workstation: Workstation, operator: Any) -> None:
    if operator is None:
        return
    allowed = workstation.operators.all()
    if allowed.exists() and not allowed.filter(pk=operator.pk).exists():
        raise errors.OperatorNotAllowed(
            f"{operator.get_username()} is not an allowed operator at {workstation.code}.", field="operator"
        )


@service_atomic
def operation_start(
    *, run: OperationRun, operator: Any = None, workstation: Workstation | None = None, at: dt.datetime | None = None
) -> OperationRun:
    """Start a queued run at its station (or ``workstation``, one the step may use).

    Refused: the order on hold (``work_order_on_hold``), a step whose
    predecessor has not passed it anything (``predecessor_not_done``), an
    operator not allowed at the station (``operator_not_allowed``), a station
    already running as many jobs as its capacity (``station_at_capacity``).
    """
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_open(work_order, "start a step")
    _require_not_held(work_order, "start a step")
    if run.status == RunStatus.WAITING:
        raise errors.PredecessorNotDone(
            f"Step {run.sequence} of {work_order.number} cannot start: the step before it is not done."
        )
    if run.status != RunStatus.QUEUED:
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is {run.status}, not queued.")
    station = workstation or run.workstation or run.operation.workstation
    if station is None:
        raise errors.ValidationFailed("Say at which station of the group it starts.", field="workstation")
    if not run.operation.accepts(station) or station.site_id != work_order.site_id:
        raise errors.WrongStation(f"Step {run.sequence} cannot run at {station.code}.", field="workstation")
    if not station.active:
        raise errors.WrongStation(f"{station.code} is not active.", field="workstation")
    _check_operator(station, operator)
    Workstation.objects.select_for_update().filter(pk=station.pk).first()  # serialise capacity checks per station
    running = OperationRun.objects.filter(workstation=station, status=RunStatus.RUNNING).count()
    if running >= station.capacity:
        raise errors.StationAtCapacity(
            f"{station.code} already runs {running} job(s), its capacity.", field="workstation"
        )
    run.status = RunStatus.RUNNING
    run.workstation = station
    run.operator = actor_or_none(operator)
    run.started_at = run.last_event_at = at
    run.save(update_fields=["status", "workstation", "operator", "started_at", "last_event_at"])
    if work_order.status == WorkOrderStatus.RELEASED:
        work_order.status = WorkOrderStatus.IN_PROGRESS
        work_order.started_at = work_order.started_at or at
        work_order.save(update_fields=["status", "started_at", "updated_at"])
    station = Workstation.objects.select_related("location").get(pk=station.pk)
    run.workstation = station
    station_runs_sync(workstation=station, at=at, running=True)
    broadcast(
        site_id=work_order.site_id,
        type="operation.started",
        data=_run_payload(run, work_order),
        station_ids=_station_ids(station),
        occurred_at=at,
    )
    return run


@service_atomic
def operation_pause(
    *, run: OperationRun, actor: Any = None, at: dt.datetime | None = None, reason: str = ""
) -> OperationRun:
    """Pause a running run (allowed on hold: a hold pauses work)."""
    at = _now(at)
    work_order, run = _lock_run(run)
    if run.status != RunStatus.RUNNING:
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is {run.status}, not running.")
    run.status, run.paused_at, run.last_event_at = RunStatus.PAUSED, at, at
    run.save(update_fields=["status", "paused_at", "last_event_at"])
    station_runs_sync(workstation=run.workstation, at=at)
    broadcast(
        site_id=work_order.site_id,
        type="operation.paused",
        data={**_run_payload(run, work_order), "reason": reason},
        station_ids=_station_ids(run.workstation),
        occurred_at=at,
    )
    return run


def _close_pause(run: OperationRun, at: dt.datetime) -> None:
    if run.paused_at is not None:
        run.paused_seconds += max(int((at - run.paused_at).total_seconds()), 0)
        run.paused_at = None


@service_atomic
def operation_resume(*, run: OperationRun, operator: Any = None, at: dt.datetime | None = None) -> OperationRun:
    """Resume a paused run; refused while the order is on hold."""
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_not_held(work_order, "resume a step")
    if run.status != RunStatus.PAUSED:
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is {run.status}, not paused.")
    if operator is not None:
        if run.workstation is None:  # it was started at a station
            raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} has no workstation.")
        _check_operator(run.workstation, operator)
    _close_pause(run, at)
    run.status, run.last_event_at = RunStatus.RUNNING, at
    if actor_or_none(operator) is not None:  # resumed by nobody in particular: who started it stays
        run.operator = operator
    run.save(update_fields=["status", "paused_at", "paused_seconds", "last_event_at", "operator"])
    station_runs_sync(workstation=run.workstation, at=at, running=True)
    broadcast(
        site_id=work_order.site_id,
        type="operation.started",
        data=_run_payload(run, work_order),
        station_ids=_station_ids(run.workstation),
        occurred_at=at,
    )
    return run


def _issue_components(
    *,
    work_order: WorkOrder,
    run: OperationRun,
    quantity: Decimal,
    components: Sequence[dict] | None,
    actor: Any,
    at: dt.datetime,
) -> list:
    """Issue this step's components: backflushed from the BOM for first-time
    units, or exactly as ``components`` says (item, quantity, lot, serials,
    location) for the items it names."""
    location = _issue_location(work_order, run)
    given = {entry["item"].pk: entry for entry in components or ()}
    wanted: list[dict] = []
    if work_order.bom is not None and run.attempt == 1:
        first_sequence = (
            Operation.objects.filter(routing_id=work_order.routing_id)
            .order_by("sequence")
            .values_list("sequence", flat=True)
            .first()
        )
        for line in work_order.bom.lines.select_related("component").order_by("pk"):
            at_step = line.operation_sequence if line.operation_sequence is not None else first_sequence
            if at_step != run.sequence or line.component_id in given:
                continue
            wanted.append({"item": line.component, "quantity": line.quantity_per_unit * quantity})
    wanted.extend(given.values())
    moves = []
    for entry in wanted:
        if entry["quantity"] <= 0:
            continue
        moves.extend(
            stock.stock_issue(
                item=entry["item"],
                quantity=entry["quantity"],
                location=entry.get("location") or location,
                lot=entry.get("lot"),
                serials=entry.get("serials"),
                reference=work_order.number,
                reference_type="work_order",
                actor=actor,
                occurred_at=at,
            )
        )
    MaterialIssue.objects.bulk_create(
        [MaterialIssue(site_id=work_order.site_id, work_order=work_order, run=run, move=move) for move in moves]
    )
    return moves


@service_atomic
def operation_complete(
    *,
    run: OperationRun,
    good_quantity: Decimal,
    scrap_quantity: Decimal = ZERO,
    scrap_code: str = "SCRAP",
    components: Sequence[dict] | None = None,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> OperationRun:
    """Finish a running (or paused) run with good and scrap quantities.

    Consumes the step's components through ``inventory.services.stock_issue``
    (backflush from the BOM for first-time units, or ``components`` as
    given) and records which moves they were. Scrap is recorded as a defect
    with disposition scrap; the material it used stays consumed. A partial
    quantity is allowed only where the step allows a split: the rest stays
    queued at the station as a run of its own. Without an inspection the good
    units go on to the next step at once; with one they wait for it.
    """
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_open(work_order, "complete a step")
    _require_not_held(work_order, "complete a step")
    if run.status not in (RunStatus.RUNNING, RunStatus.PAUSED):
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is {run.status}, not running.")
    item = work_order.item
    good = _qty(good_quantity, item=item, field="good_quantity", allow_zero=True)
    scrap = _qty(scrap_quantity, item=item, field="scrap_quantity", allow_zero=True)
    done = good + scrap + run.scrap_quantity
    if good + scrap <= 0:
        raise errors.ValidationFailed("Report a good or a scrap quantity.", field="good_quantity")
    if done > run.quantity:
        raise errors.ValidationFailed(
            f"Good and scrap ({done.normalize():f}) exceed the run's quantity ({run.quantity.normalize():f}).",
            field="good_quantity",
        )
    remainder = run.quantity - done
    if remainder > 0 and not run.operation.allow_split:
        raise errors.SplitNotAllowed(
            f"Step {run.sequence} does not allow a split: report all {run.quantity.normalize():f} as good or scrap.",
            field="good_quantity",
        )
    for entry in components or ():
        entry["quantity"] = _qty(entry.get("quantity"), item=entry["item"], field="components")
    if run.status == RunStatus.PAUSED:
        _close_pause(run, at)
    run.status = RunStatus.DONE
    run.finished_at = run.last_event_at = at
    run.good_quantity = good
    run.scrap_quantity += scrap
    if remainder > 0:
        run.quantity = done
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "last_event_at",
            "good_quantity",
            "scrap_quantity",
            "quantity",
            "paused_at",
            "paused_seconds",
        ]
    )
    station_runs_sync(workstation=run.workstation, at=at)
    if remainder > 0:
        _new_run(
            work_order=work_order,
            operation=run.operation,
            quantity=remainder,
            at=at,
            attempt=run.attempt,
            rework_of=run.rework_of,
            split_from=run,
            workstation=run.workstation,
            with_setup=False,
        )
    _issue_components(work_order=work_order, run=run, quantity=good + scrap, components=components, actor=actor, at=at)
    if scrap > 0:
        Defect.objects.create(
            site_id=work_order.site_id,
            work_order=work_order,
            run=run,
            workstation=run.workstation,
            code=scrap_code or "SCRAP",
            quantity=scrap,
            disposition=Disposition.SCRAP,
            reported_by=actor_or_none(actor),
            reported_at=at,
            disposed_by=actor_or_none(actor),
            disposed_at=at,
        )
        WorkOrder.objects.filter(pk=work_order.pk).update(quantity_scrapped=F("quantity_scrapped") + scrap)
    if run.alerted_overtime:
        alert_clear(site=work_order.site_id, kind=ALERT_OVERTIME, subject=f"run:{run.pk}", at=at)
    broadcast(
        site_id=work_order.site_id,
        type="operation.completed",
        data={**_run_payload(run, work_order), "good": str(good), "scrap": str(scrap)},
        station_ids=_station_ids(run.workstation),
        occurred_at=at,
    )
    if run.inspection != InspectionState.PENDING:
        _release_forward(work_order=work_order, run=run, quantity=_forwardable(run), at=at)
    return run


@service_atomic
def operation_skip(
    *, run: OperationRun, actor: Any = None, reason: str = "", at: dt.datetime | None = None
) -> OperationRun:
    """Skip a queued step without an inspection: its whole quantity goes on."""
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_open(work_order, "skip a step")
    if run.status != RunStatus.QUEUED:
        raise errors.InvalidTransition(f"Only a queued step can be skipped; step {run.sequence} is {run.status}.")
    if run.operation.inspection_required:
        raise errors.InvalidTransition(f"Step {run.sequence} requires an inspection and cannot be skipped.")
    run.status, run.finished_at, run.last_event_at, run.good_quantity = RunStatus.SKIPPED, at, at, run.quantity
    run.save(update_fields=["status", "finished_at", "last_event_at", "good_quantity"])
    audit_record(actor=actor, action="operation.skipped", obj=run, site=work_order.site, changes={"reason": reason})
    _release_forward(work_order=work_order, run=run, quantity=run.quantity, at=at)
    return run
