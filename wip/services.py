"""Writes of wip: work orders moving through their routing, quality, holds.

Every function is one transaction (``@transaction.atomic``, not durable: the
API wraps creates in the idempotency transaction). Rows are locked in one
order, the work order first, then its runs by primary key, then whatever the
inventory services lock, so two writers of the same order never deadlock.
Quantities reach stock only through ``inventory.services``. Events are
broadcast after commit through ``tracker.realtime.broadcast``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from inventory import services as stock
from inventory.models import Item, Lot
from tracker.audit import audit_record
from tracker.models import Location, Severity, Site
from tracker.realtime import broadcast
from tracker.services import alert_clear, alert_raise
from wip import errors
from wip.models import (
    ZERO,
    BillOfMaterials,
    CheckItem,
    CheckKind,
    CheckResult,
    Defect,
    Disposition,
    Hold,
    Inspection,
    InspectionResult,
    InspectionState,
    MaterialIssue,
    Operation,
    OperationRun,
    Routing,
    RunStatus,
    WorkOrder,
    WorkOrderStatus,
    Workstation,
)

ALERT_INSPECTION_FAILED = "wip.inspection_failed"
ALERT_OVERTIME = "wip.operation_overtime"
ALERT_QUEUE_OVER_LIMIT = "wip.queue_over_limit"
ALERT_LATE = "wip.work_order_late"


# --- helpers -------------------------------------------------------------------


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
        "workstation": run.workstation.code if run.workstation_id else None,
    }


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
    failed_at = run.rework_of.sequence if run.rework_of_id else None
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
        data={**_run_payload(nxt, work_order), "from": run.workstation.code if run.workstation_id else None},
        station_ids=_station_ids(run.workstation, nxt.workstation),
        occurred_at=at,
    )
    return nxt


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


def _resolve_defect_flow(*, work_order: WorkOrder, run: OperationRun, at: dt.datetime) -> None:
    """A failed run whose defects are all decided passes its remaining good units on."""
    if run.status == RunStatus.FAILED and _open_defect_quantity(run) == 0:
        _release_forward(work_order=work_order, run=run, quantity=_forwardable(run), at=at)


# --- work orders ---------------------------------------------------------------


@transaction.atomic
def work_order_create(
    *,
    site: Site,
    number: str,
    item: Item,
    quantity: Decimal,
    routing: Routing,
    bom: BillOfMaterials | None = None,
    due_at: dt.datetime | None = None,
    priority: int = 5,
    external_ref: str = "",
    output_lot_code: str = "",
    output_serials: Sequence[str] = (),
    issue_location: Location | None = None,
    output_location: Location | None = None,
    actor: Any = None,
) -> WorkOrder:
    """Plan a work order (status planned).

    Guarantees: the routing and bill of materials are the site's, active and
    for this item (the item's active BOM at the site when none is named);
    serials, when given, are one per unit; the number is unique.
    """
    number = (number or "").strip()
    if not number:
        raise errors.ValidationFailed("A work order needs a number.", field="number")
    qty = _qty(quantity, item=item, field="quantity")
    if routing.site_id != site.pk or routing.item_id != item.pk:
        raise errors.ValidationFailed(f"Routing {routing.code} is not for {item.sku} at {site.code}.", field="routing")
    if not routing.active:
        raise errors.ValidationFailed(f"Routing {routing.code} is not active.", field="routing")
    if not routing.operations.exists():
        raise errors.ValidationFailed(f"Routing {routing.code} has no operations.", field="routing")
    if bom is None:
        bom = BillOfMaterials.objects.filter(site=site, item=item, active=True).order_by("pk").first()
    elif bom.site_id != site.pk or bom.item_id != item.pk or not bom.active:
        raise errors.ValidationFailed(
            f"Bill of materials {bom.code} is not an active BOM of {item.sku} here.", field="bom"
        )
    if not 1 <= int(priority) <= 9:
        raise errors.ValidationFailed("Priority runs from 1 (most urgent) to 9.", field="priority")
    for field, location in (("issue_location", issue_location), ("output_location", output_location)):
        if location is not None and (location.site_id != site.pk or location.is_virtual):
            raise errors.ValidationFailed("The location must be a real location of the site.", field=field)
    serials = [str(s).strip() for s in output_serials or () if str(s).strip()]
    if serials:
        if not item.is_serial_tracked:
            raise errors.ValidationFailed(f"{item.sku} is not serial-tracked.", field="output_serials")
        if len(serials) != qty or len(set(serials)) != len(serials):
            raise errors.ValidationFailed("Give one distinct serial per unit.", field="output_serials")
    if output_lot_code and item.tracking == Item.Tracking.NONE:
        raise errors.ValidationFailed(f"{item.sku} is not lot-tracked.", field="output_lot_code")
    if due_at is not None:
        _now(due_at)
    if WorkOrder.objects.filter(number=number).exists():
        raise errors.DuplicateWorkOrder(f"Work order {number!r} already exists.", field="number")
    try:
        with transaction.atomic():
            work_order = WorkOrder.objects.create(
                site=site,
                number=number,
                item=item,
                quantity=qty,
                routing=routing,
                bom=bom,
                due_at=due_at,
                priority=priority,
                external_ref=external_ref,
                output_lot_code=output_lot_code,
                output_serials=serials,
                issue_location=issue_location,
                output_location=output_location,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError as exc:
        raise errors.DuplicateWorkOrder(f"Work order {number!r} already exists.", field="number") from exc
    audit_record(
        actor=actor,
        action="workorder.created",
        obj=work_order,
        site=site,
        changes={"item": item.sku, "quantity": str(qty), "routing": routing.code},
    )
    return work_order


@transaction.atomic
def work_order_release(*, work_order: WorkOrder, actor: Any = None, at: dt.datetime | None = None) -> WorkOrder:
    """Release a planned order: one run per routing step, the first queued at
    its station (or its group's queue), and every component reserved.

    Guarantees: all or nothing; ``insufficient_stock`` if a component cannot
    be reserved in full.
    """
    at = _now(at)
    work_order = _lock_order(work_order)
    if work_order.status != WorkOrderStatus.PLANNED:
        raise errors.InvalidTransition(f"Work order {work_order.number} is {work_order.status}, not planned.")
    operations = list(
        Operation.objects.select_related("workstation", "workstation__location")
        .filter(routing_id=work_order.routing_id)
        .order_by("sequence")
    )
    if not operations:
        raise errors.ValidationFailed("The routing has no operations.", field="routing")
    first = None
    for index, operation in enumerate(operations):
        run = _new_run(
            work_order=work_order,
            operation=operation,
            quantity=work_order.quantity,
            at=at,
            status=RunStatus.QUEUED if index == 0 else RunStatus.WAITING,
        )
        first = first or run
    if work_order.bom_id:
        for line in work_order.bom.lines.select_related("component").order_by("pk"):
            stock.stock_reserve(
                item=line.component,
                quantity=line.quantity_per_unit * work_order.quantity,
                site=work_order.site,
                reference=work_order.number,
                reference_type="work_order",
                actor=actor,
            )
    _check_station_limit(operations[0].workstation, at)
    work_order.status = WorkOrderStatus.RELEASED
    work_order.released_at = at
    work_order.save(update_fields=["status", "released_at", "updated_at"])
    audit_record(actor=actor, action="workorder.released", obj=work_order, site=work_order.site)
    broadcast(
        site_id=work_order.site_id,
        type="workorder.released",
        data=_run_payload(first, work_order),
        station_ids=_station_ids(operations[0].workstation),
        occurred_at=at,
    )
    return work_order


@dataclass(frozen=True)
class ArrivalResult:
    """What an arrival did: ``changed`` is False for a repeat or a stale read."""

    run: OperationRun | None
    changed: bool
    reason: str  # "arrived", "already_here", "stale", "wrong_station", "not_ready", "not_open"


@transaction.atomic
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


@transaction.atomic
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
    run.operator = operator if getattr(operator, "is_authenticated", False) else None
    run.started_at = run.last_event_at = at
    run.save(update_fields=["status", "workstation", "operator", "started_at", "last_event_at"])
    if work_order.status == WorkOrderStatus.RELEASED:
        work_order.status = WorkOrderStatus.IN_PROGRESS
        work_order.started_at = work_order.started_at or at
        work_order.save(update_fields=["status", "started_at", "updated_at"])
    station = Workstation.objects.select_related("location").get(pk=station.pk)
    run.workstation = station
    broadcast(
        site_id=work_order.site_id,
        type="operation.started",
        data=_run_payload(run, work_order),
        station_ids=_station_ids(station),
        occurred_at=at,
    )
    return run


@transaction.atomic
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


@transaction.atomic
def operation_resume(*, run: OperationRun, operator: Any = None, at: dt.datetime | None = None) -> OperationRun:
    """Resume a paused run; refused while the order is on hold."""
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_not_held(work_order, "resume a step")
    if run.status != RunStatus.PAUSED:
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is {run.status}, not paused.")
    if operator is not None:
        _check_operator(run.workstation, operator)
    _close_pause(run, at)
    run.status, run.last_event_at = RunStatus.RUNNING, at
    if getattr(operator, "is_authenticated", False):
        run.operator = operator
    run.save(update_fields=["status", "paused_at", "paused_seconds", "last_event_at", "operator"])
    broadcast(
        site_id=work_order.site_id,
        type="operation.started",
        data=_run_payload(run, work_order),
        station_ids=_station_ids(run.workstation),
        occurred_at=at,
    )
    return run


def _issue_location(work_order: WorkOrder, run: OperationRun) -> Location:
    if work_order.issue_location_id:
        return work_order.issue_location
    station = run.workstation
    return station.supply_location if station.supply_location_id else station.location


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
    if work_order.bom_id and run.attempt == 1:
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


@transaction.atomic
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
            reported_by=actor if getattr(actor, "is_authenticated", False) else None,
            reported_at=at,
            disposed_by=actor if getattr(actor, "is_authenticated", False) else None,
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


@transaction.atomic
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


# --- quality -------------------------------------------------------------------


@transaction.atomic
def inspection_record(
    *,
    run: OperationRun,
    results: Sequence[dict] = (),
    passed: bool | None = None,
    inspector: Any = None,
    notes: str = "",
    failed_quantity: Decimal | None = None,
    defect_code: str = "INSPECTION_FAILED",
    at: dt.datetime | None = None,
) -> Inspection:
    """Record an inspection of a finished run awaiting one.

    ``results``: one per check item of the step (``check`` = name or
    CheckItem, ``passed`` for pass/fail, ``value`` for measurements, judged
    against the limits). A step without check items takes ``passed``.
    Pass: the good units go on. Fail: the run fails, a defect opens for
    ``failed_quantity`` (default: all its good units) and an alert is raised;
    the units wait for the defect's disposition.
    """
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_open(work_order, "inspect")
    if run.status != RunStatus.DONE or run.inspection != InspectionState.PENDING:
        raise errors.InvalidTransition(f"Step {run.sequence} of {work_order.number} is not awaiting an inspection.")
    checks = {c.name: c for c in CheckItem.objects.filter(operation_id=run.operation_id)}
    evaluated: list[tuple[CheckItem, bool, Decimal | None]] = []
    seen: set[str] = set()
    for index, result in enumerate(results):
        check = result.get("check")
        name = check.name if isinstance(check, CheckItem) else str(check or "")
        if name not in checks:
            raise errors.ValidationFailed(
                f"Step {run.sequence} has no check {name!r}.", field=f"results[{index}].check"
            )
        if name in seen:
            raise errors.ValidationFailed(f"Check {name!r} given twice.", field=f"results[{index}].check")
        seen.add(name)
        item = checks[name]
        value = result.get("value")
        if value is not None:
            try:
                value = Decimal(str(value))
            except Exception as exc:
                raise errors.ValidationFailed(f"{value!r} is not a number.", field=f"results[{index}].value") from exc
        if item.kind == CheckKind.MEASUREMENT and value is None:
            raise errors.ValidationFailed(f"Check {name!r} needs a measured value.", field=f"results[{index}].value")
        if item.kind == CheckKind.PASS_FAIL and result.get("passed") is None:
            raise errors.ValidationFailed(
                f"Check {name!r} needs passed true or false.", field=f"results[{index}].passed"
            )
        evaluated.append((item, item.evaluate(passed=result.get("passed"), value=value), value))
    missing = sorted(set(checks) - seen)
    if missing:
        raise errors.ValidationFailed(f"Missing results for: {', '.join(missing)}.", field="results")
    if not checks:
        if passed is None:
            raise errors.ValidationFailed("Say whether it passed.", field="passed")
        ok = bool(passed)
    else:
        ok = all(flag for _, flag, _ in evaluated)
    bad = None
    if not ok:
        bad = (
            run.good_quantity
            if failed_quantity is None
            else _qty(failed_quantity, item=work_order.item, field="failed_quantity")
        )
        if bad > run.good_quantity - run.released_quantity:
            raise errors.ValidationFailed("More failed units than the run has.", field="failed_quantity")
    inspection = Inspection.objects.create(
        site_id=work_order.site_id,
        run=run,
        work_order=work_order,
        inspector=inspector if getattr(inspector, "is_authenticated", False) else None,
        inspected_at=at,
        result=InspectionResult.PASS if ok else InspectionResult.FAIL,
        notes=notes,
    )
    CheckResult.objects.bulk_create(
        [CheckResult(inspection=inspection, check_item=c, passed=flag, value=v) for c, flag, v in evaluated]
    )
    if ok:
        run.inspection = InspectionState.PASSED
        run.last_event_at = at
        run.save(update_fields=["inspection", "last_event_at"])
        _release_forward(work_order=work_order, run=run, quantity=_forwardable(run), at=at)
        return inspection
    run.inspection, run.status, run.last_event_at = InspectionState.FAILED, RunStatus.FAILED, at
    run.save(update_fields=["inspection", "status", "last_event_at"])
    if bad and bad > 0:
        Defect.objects.create(
            site_id=work_order.site_id,
            work_order=work_order,
            run=run,
            workstation=run.workstation,
            inspection=inspection,
            code=defect_code or "INSPECTION_FAILED",
            quantity=bad,
            description=notes,
            reported_by=inspection.inspector,
            reported_at=at,
        )
    failing = [c.name for c, flag, _ in evaluated if not flag]
    alert_raise(
        site=work_order.site_id,
        kind=ALERT_INSPECTION_FAILED,
        subject=f"run:{run.pk}",
        severity=Severity.WARNING,
        message=f"{work_order.number} failed inspection at step {run.sequence} ({run.operation.name})"
        + (f": {', '.join(failing)}" if failing else "."),
        data={"work_order": work_order.number, "run": run.pk, "checks": failing},
        at=at,
    )
    _resolve_defect_flow(work_order=work_order, run=run, at=at)
    return inspection


def _apply_disposition(
    *, work_order: WorkOrder, run: OperationRun, defect: Defect, actor: Any, at: dt.datetime
) -> None:
    disposition, qty = defect.disposition, defect.quantity
    if disposition == Disposition.SCRAP:
        if run.status in (RunStatus.RUNNING, RunStatus.PAUSED):
            run.scrap_quantity += qty
        else:
            run.good_quantity -= qty
            run.scrap_quantity += qty
        run.save(update_fields=["good_quantity", "scrap_quantity"])
        WorkOrder.objects.filter(pk=work_order.pk).update(quantity_scrapped=F("quantity_scrapped") + qty)
        if defect.component_id:
            station = run.workstation
            location = _issue_location(work_order, run) if station else work_order.issue_location
            stock.stock_scrap(
                item=defect.component,
                quantity=qty,
                location=location,
                lot=defect.component_lot,
                reason=f"defect {defect.code}",
                reference=work_order.number,
                reference_type="work_order",
                actor=actor,
                occurred_at=at,
            )
    elif disposition == Disposition.REWORK:
        target = (
            Operation.objects.select_related("workstation")
            .filter(routing_id=work_order.routing_id, sequence=defect.rework_to_sequence)
            .first()
        )
        if run.status in (RunStatus.RUNNING, RunStatus.PAUSED):
            run.quantity -= qty
        else:
            run.good_quantity -= qty
        run.save(update_fields=["quantity", "good_quantity"])
        # Rework runs answer to the run that failed (this one), up to whose step they repeat.
        rework = _new_run(
            work_order=work_order,
            operation=target,
            quantity=qty,
            at=at,
            attempt=run.attempt + 1,
            rework_of=run,
        )
        if target.workstation_id:
            rework.workstation = Workstation.objects.select_related("location").get(pk=target.workstation_id)
        broadcast(
            site_id=work_order.site_id,
            type="workorder.moved",
            data={
                **_run_payload(rework, work_order),
                "rework": True,
                "from": run.workstation.code if run.workstation_id else None,
            },
            station_ids=_station_ids(run.workstation, rework.workstation),
            occurred_at=at,
        )


def _check_disposition(
    *,
    work_order: WorkOrder,
    run: OperationRun,
    disposition: str,
    rework_to_sequence: int | None,
    quantity: Decimal,
    defect: Defect | None = None,
) -> int | None:
    if disposition not in Disposition.values:
        raise errors.ValidationFailed(f"Unknown disposition {disposition!r}.", field="disposition")
    if run.status in (RunStatus.RUNNING, RunStatus.PAUSED):
        if disposition == Disposition.OPEN:
            raise errors.ValidationFailed("A defect found while running needs a disposition.", field="disposition")
        if disposition == Disposition.REWORK and quantity >= run.quantity - run.scrap_quantity:
            raise errors.ValidationFailed(
                "Rework of the whole run: complete it, then record the defect.", field="quantity"
            )
        if disposition == Disposition.SCRAP and quantity > run.quantity - run.scrap_quantity:
            raise errors.ValidationFailed("More scrap than the run has.", field="quantity")
    elif run.status in (RunStatus.DONE, RunStatus.FAILED):
        held = _open_defect_quantity(run) - (defect.quantity if defect is not None else ZERO)
        room = run.good_quantity - run.released_quantity - held
        if disposition != Disposition.USE_AS_IS and quantity > room:
            raise errors.ValidationFailed(
                f"Only {max(room, ZERO).normalize():f} unit(s) of step {run.sequence} are still here; record the"
                " defect at the step where the units are now.",
                field="quantity",
            )
    else:
        raise errors.InvalidTransition(f"Step {run.sequence} is {run.status}; no defect can be recorded on it.")
    if disposition != Disposition.REWORK:
        return None
    target = run.sequence if rework_to_sequence is None else int(rework_to_sequence)
    if (
        target > run.sequence
        or not Operation.objects.filter(routing_id=work_order.routing_id, sequence=target).exists()
    ):
        raise errors.ValidationFailed(
            f"Rework goes back to a step of the routing at or before step {run.sequence}.", field="rework_to_sequence"
        )
    return target


@transaction.atomic
def defect_record(
    *,
    run: OperationRun,
    code: str,
    quantity: Decimal,
    disposition: str = Disposition.OPEN,
    rework_to_sequence: int | None = None,
    description: str = "",
    component: Item | None = None,
    component_lot: Lot | None = None,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Defect:
    """Record ``quantity`` bad units at a run, and (optionally) what to do.

    rework: the units go back to ``rework_to_sequence`` (default: this step)
    as new runs, repeating the steps up to this one; scrap: they count as
    scrap (a component defect also scraps that component from line-side
    stock through ``stock_scrap``); use as is: they go on. Open: the units
    wait for ``defect_dispose``.
    """
    at = _now(at)
    work_order, run = _lock_run(run)
    _require_open(work_order, "record a defect")
    if not (code or "").strip():
        raise errors.ValidationFailed("A defect needs a code.", field="code")
    qty = _qty(quantity, item=work_order.item, field="quantity")
    if component_lot is not None and (component is None or component_lot.item_id != component.pk):
        raise errors.ValidationFailed("The lot is not of that component.", field="component_lot")
    target = _check_disposition(
        work_order=work_order, run=run, disposition=disposition, rework_to_sequence=rework_to_sequence, quantity=qty
    )
    user = actor if getattr(actor, "is_authenticated", False) else None
    defect = Defect.objects.create(
        site_id=work_order.site_id,
        work_order=work_order,
        run=run,
        workstation=run.workstation,
        code=code.strip(),
        description=description,
        quantity=qty,
        disposition=disposition,
        rework_to_sequence=target,
        component=component,
        component_lot=component_lot,
        reported_by=user,
        reported_at=at,
        disposed_by=user if disposition else None,
        disposed_at=at if disposition else None,
    )
    if disposition:
        _apply_disposition(work_order=work_order, run=run, defect=defect, actor=actor, at=at)
        _resolve_defect_flow(work_order=work_order, run=run, at=at)
    return defect


@transaction.atomic
def defect_dispose(
    *,
    defect: Defect,
    disposition: str,
    rework_to_sequence: int | None = None,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Defect:
    """Decide an open defect (rework, scrap or use as is); see ``defect_record``."""
    at = _now(at)
    work_order, run = _lock_run(OperationRun(pk=defect.run_id, work_order_id=defect.work_order_id))
    defect = (
        Defect.objects.select_for_update(of=("self",)).select_related("component", "component_lot").get(pk=defect.pk)
    )
    _require_open(work_order, "dispose of a defect")
    if defect.disposition != Disposition.OPEN:
        raise errors.InvalidTransition(f"Defect {defect.pk} is already decided ({defect.disposition}).")
    if disposition == Disposition.OPEN:
        raise errors.ValidationFailed("Choose rework, scrap or use as is.", field="disposition")
    target = _check_disposition(
        work_order=work_order,
        run=run,
        disposition=disposition,
        rework_to_sequence=rework_to_sequence,
        quantity=defect.quantity,
        defect=defect,
    )
    defect.disposition, defect.rework_to_sequence = disposition, target
    defect.disposed_by = actor if getattr(actor, "is_authenticated", False) else None
    defect.disposed_at = at
    defect.save(update_fields=["disposition", "rework_to_sequence", "disposed_by", "disposed_at"])
    _apply_disposition(work_order=work_order, run=run, defect=defect, actor=actor, at=at)
    _resolve_defect_flow(work_order=work_order, run=run, at=at)
    if not Defect.objects.filter(run=run, disposition=Disposition.OPEN).exists():
        alert_clear(site=work_order.site_id, kind=ALERT_INSPECTION_FAILED, subject=f"run:{run.pk}", at=at)
    audit_record(
        actor=actor,
        action="defect.disposed",
        obj=defect,
        site=work_order.site,
        changes={"disposition": disposition, "rework_to_sequence": target},
    )
    return defect


# --- holds ---------------------------------------------------------------------


@transaction.atomic
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
    user = actor if getattr(actor, "is_authenticated", False) else None
    if lot is not None:
        hold = Hold.objects.create(site_id=lot.site_id, lot=lot, reason=reason, placed_by=user, placed_at=at)
        stock.lot_set_status(lot=lot, status=Lot.Status.ON_HOLD, reason=reason, actor=actor)
        return hold
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
    audit_record(actor=actor, action="workorder.held", obj=work_order, site=work_order.site, changes={"reason": reason})
    broadcast(
        site_id=work_order.site_id,
        type="workorder.held",
        data={"work_order": work_order.number, "work_order_status": work_order.status, "reason": reason},
        station_ids=_station_ids(*stations),
        occurred_at=at,
    )
    return hold


@transaction.atomic
def hold_release(*, hold: Hold, actor: Any = None, note: str = "", at: dt.datetime | None = None) -> Hold:
    """Release a hold; the order returns to where it was when the last hold is gone
    (paused steps stay paused until resumed); a lot becomes available again."""
    at = _now(at)
    if hold.work_order_id:
        work_order = _lock_order(hold.work_order)
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise errors.InvalidTransition(f"Hold {hold.pk} is already released.")
    hold.released_at = at
    hold.released_by = actor if getattr(actor, "is_authenticated", False) else None
    hold.release_note = note
    hold.save(update_fields=["released_at", "released_by", "release_note"])
    if hold.lot_id:
        if not Hold.objects.open().filter(lot_id=hold.lot_id).exists():
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


# --- completion and cancellation -----------------------------------------------


@transaction.atomic
def work_order_complete(
    *,
    work_order: WorkOrder,
    location: Location | None = None,
    lot_code: str | None = None,
    serials: Sequence[str] | None = None,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> WorkOrder:
    """Book the finished units into stock and close the order.

    The finished quantity is what passed the last step. Produced through
    ``inventory.services.stock_produce`` with the order's issue moves as
    ``consumed``, so the output lot (or serials) records its genealogy;
    leftover component reservations are released. Refused while a step is
    queued, running, paused or awaiting inspection, or a defect is open.
    """
    at = _now(at)
    work_order = _lock_order(work_order)
    _require_open(work_order, "complete it")
    _require_not_held(work_order, "complete it")
    runs = _lock_runs(work_order)
    busy = [r for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)]
    if busy:
        steps = ", ".join(sorted({str(r.sequence) for r in busy}))
        raise errors.InvalidTransition(f"Work order {work_order.number} still has work at step(s) {steps}.")
    if any(r.status == RunStatus.DONE and r.inspection == InspectionState.PENDING for r in runs):
        raise errors.InspectionPending(f"Work order {work_order.number} has a step awaiting inspection.")
    if Defect.objects.filter(work_order=work_order, disposition=Disposition.OPEN).exists():
        raise errors.InvalidTransition(f"Work order {work_order.number} has an open defect.")
    last_sequence = max(r.sequence for r in runs) if runs else None
    finished = sum((r.released_quantity for r in runs if r.sequence == last_sequence), ZERO)
    item = work_order.item
    target = location or work_order.output_location
    if target is None:
        last = max(
            (r for r in runs if r.sequence == last_sequence and r.workstation_id), key=lambda r: r.pk, default=None
        )
        target = last.workstation.location if last else None
    if finished > 0:
        if target is None or target.site_id != work_order.site_id or target.is_virtual:
            raise errors.ValidationFailed(
                "Say where the finished goods go (a real location of the site).", field="location"
            )
        codes = list(serials if serials is not None else work_order.output_serials or [])
        if item.is_serial_tracked and len(codes) != finished:
            raise errors.ValidationFailed(
                f"{item.sku} is serial-tracked: give {finished.normalize():f} serial(s) for the finished units.",
                field="serials",
            )
        code = None
        if item.tracking != Item.Tracking.NONE:
            code = lot_code or work_order.output_lot_code or (work_order.number if item.is_lot_tracked else None)
        consumed = [
            mi.move
            for mi in MaterialIssue.objects.select_related("move__item", "move__lot", "move__serial")
            .filter(work_order=work_order)
            .order_by("pk")
        ]
        moves = stock.stock_produce(
            item=item,
            quantity=finished,
            location=target,
            lot_code=code,
            serials=codes or None,
            consumed=consumed,
            reference=work_order.number,
            reference_type="work_order",
            actor=actor,
            occurred_at=at,
        )
        work_order.output_lot = next((m.lot for m in moves if m.lot_id), None)
        if item.is_serial_tracked:
            work_order.output_serials = codes
        work_order.output_location = target
        if code:
            work_order.output_lot_code = code
    OperationRun.objects.filter(pk__in=[r.pk for r in runs if r.status == RunStatus.WAITING]).update(
        status=RunStatus.SKIPPED, last_event_at=at
    )
    stock.stock_release_reservation(reference=work_order.number, reference_type="work_order")
    work_order.status = WorkOrderStatus.COMPLETED
    work_order.completed_at = at
    work_order.quantity_completed = finished
    work_order.save(
        update_fields=[
            "status",
            "completed_at",
            "quantity_completed",
            "output_lot",
            "output_serials",
            "output_location",
            "output_lot_code",
            "updated_at",
        ]
    )
    alert_clear(site=work_order.site_id, kind=ALERT_LATE, subject=f"workorder:{work_order.number}", at=at)
    audit_record(
        actor=actor,
        action="workorder.completed",
        obj=work_order,
        site=work_order.site,
        changes={"quantity": str(finished), "lot": work_order.output_lot_code},
    )
    broadcast(
        site_id=work_order.site_id,
        type="workorder.completed",
        data={
            "work_order": work_order.number,
            "work_order_status": work_order.status,
            "quantity": str(finished),
            "lot": work_order.output_lot_code or None,
        },
        occurred_at=at,
    )
    return work_order


@transaction.atomic
def work_order_cancel(
    *, work_order: WorkOrder, reason: str = "", actor: Any = None, at: dt.datetime | None = None
) -> WorkOrder:
    """Cancel an order that is not finished: open steps are skipped, its holds
    released and its component reservations released. Material already
    issued stays consumed (the ledger keeps it in production)."""
    at = _now(at)
    work_order = _lock_order(work_order)
    if work_order.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED):
        raise errors.InvalidTransition(
            f"Work order {work_order.number} is {work_order.status}; it cannot be cancelled."
        )
    runs = _lock_runs(work_order)
    open_runs = [
        r for r in runs if r.status in (RunStatus.WAITING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
    ]
    OperationRun.objects.filter(pk__in=[r.pk for r in open_runs]).update(status=RunStatus.SKIPPED, last_event_at=at)
    Hold.objects.open().filter(work_order=work_order).update(
        released_at=at,
        released_by=actor if getattr(actor, "is_authenticated", False) else None,
        release_note="work order cancelled",
    )
    stock.stock_release_reservation(reference=work_order.number, reference_type="work_order")
    work_order.status = WorkOrderStatus.CANCELLED
    work_order.status_before_hold = ""
    work_order.cancelled_at = at
    work_order.save(update_fields=["status", "status_before_hold", "cancelled_at", "updated_at"])
    alert_clear(site=work_order.site_id, kind=ALERT_LATE, subject=f"workorder:{work_order.number}", at=at)
    audit_record(
        actor=actor, action="workorder.cancelled", obj=work_order, site=work_order.site, changes={"reason": reason}
    )
    stations = Workstation.objects.select_related("location").filter(
        pk__in=[r.workstation_id for r in open_runs if r.workstation_id]
    )
    broadcast(
        site_id=work_order.site_id,
        type="workorder.cancelled",
        data={"work_order": work_order.number, "work_order_status": work_order.status},
        station_ids=_station_ids(*stations),
        occurred_at=at,
    )
    return work_order


# --- master data ---------------------------------------------------------------


@transaction.atomic
def workstation_create(
    *,
    location: Location,
    name: str = "",
    capacity: int = 1,
    wip_limit: int | None = None,
    group=None,
    supply_location: Location | None = None,
    operators: Iterable[Any] = (),
) -> Workstation:
    """Make a workstation of a location of kind workstation (code = the location's)."""
    if location.kind != "workstation":
        raise errors.ValidationFailed("A workstation is a location of kind workstation.", field="location")
    if Workstation.objects.filter(location=location).exists():
        raise errors.Conflict(f"{location.code} is already a workstation.", code="duplicate", field="location")
    if capacity < 1:
        raise errors.ValidationFailed("Capacity is at least 1.", field="capacity")
    if group is not None and group.site_id != location.site_id:
        raise errors.ValidationFailed("The group is at another site.", field="group")
    if supply_location is not None and (supply_location.site_id != location.site_id or supply_location.is_virtual):
        raise errors.ValidationFailed(
            "The supply location must be a real location of the site.", field="supply_location"
        )
    station = Workstation.objects.create(
        location=location,
        site_id=location.site_id,
        code=location.code,
        name=name or location.name,
        capacity=capacity,
        wip_limit=wip_limit,
        group=group,
        supply_location=supply_location,
    )
    station.operators.set(list(operators))
    return station


# --- periodic checks -----------------------------------------------------------


def _factor(site: Site) -> float:
    try:
        return float(site.setting("overtime_factor", 1.5))
    except (TypeError, ValueError):
        return 1.5


def check_overtime(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise an alert for each run running longer than its standard time × the
    site's ``overtime_factor`` (default 1.5). Returns how many were raised."""
    now = _now(now)
    factor = _factor(site)
    raised = 0
    running = OperationRun.objects.filter(site=site, status=RunStatus.RUNNING, started_at__isnull=False).select_related(
        "work_order", "workstation"
    )
    for run in running.order_by("pk"):
        elapsed_min = ((now - run.started_at).total_seconds() - run.paused_seconds) / 60
        limit = float(run.planned_minutes) * factor
        if run.planned_minutes > 0 and elapsed_min > limit:
            alert_raise(
                site=site,
                kind=ALERT_OVERTIME,
                subject=f"run:{run.pk}",
                severity=Severity.WARNING,
                message=f"{run.work_order.number} step {run.sequence} at {run.workstation.code} has run "
                f"{elapsed_min:.0f} min against a standard of {float(run.planned_minutes):.0f} min.",
                data={
                    "work_order": run.work_order.number,
                    "run": run.pk,
                    "elapsed_minutes": round(elapsed_min, 1),
                    "standard_minutes": float(run.planned_minutes),
                    "factor": factor,
                },
                at=now,
            )
            if not run.alerted_overtime:
                OperationRun.objects.filter(pk=run.pk).update(alerted_overtime=True)
            raised += 1
    return raised


def check_wip_limits(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise (or clear) the queue-over-WIP-limit alert of each station."""
    from django.db.models import Count, Q

    now = _now(now)
    stations = Workstation.objects.filter(site=site, wip_limit__isnull=False).annotate(
        wip=Count("runs", filter=Q(runs__status__in=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)))
    )
    over = 0
    for station in stations.order_by("pk"):
        subject = f"workstation:{station.code}"
        if station.wip > station.wip_limit:
            over += 1
            alert_raise(
                site=site,
                kind=ALERT_QUEUE_OVER_LIMIT,
                subject=subject,
                severity=Severity.WARNING,
                message=f"{station.code} holds {station.wip} jobs against a WIP limit of {station.wip_limit}.",
                data={"workstation": station.code, "wip": station.wip, "limit": station.wip_limit},
                at=now,
            )
        else:
            alert_clear(site=site, kind=ALERT_QUEUE_OVER_LIMIT, subject=subject, at=now)
    return over


def check_late(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise an alert for each open order whose ETA is after its due date; clear it otherwise."""
    from wip.selectors import site_schedule

    now = _now(now)
    plan = site_schedule(site=site, now=now)
    late = 0
    open_orders = WorkOrder.objects.filter(
        site=site, status__in=(WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ON_HOLD)
    )
    for number, due_at in open_orders.order_by("pk").values_list("number", "due_at"):
        estimate = plan.orders.get(number)
        subject = f"workorder:{number}"
        if estimate is not None and due_at is not None and estimate.eta > due_at:
            late += 1
            alert_raise(
                site=site,
                kind=ALERT_LATE,
                subject=subject,
                severity=Severity.WARNING,
                message=f"{number} will finish {timezone.localtime(estimate.eta):%Y-%m-%d %H:%M}, after its due date "
                f"{timezone.localtime(due_at):%Y-%m-%d %H:%M}.",
                data={"work_order": number, "eta": estimate.eta.isoformat(), "due_at": due_at.isoformat()},
                at=now,
            )
        else:
            alert_clear(site=site, kind=ALERT_LATE, subject=subject, at=now)
    return late
