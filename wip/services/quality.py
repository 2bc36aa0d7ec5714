"""Quality: inspections of finished runs, defects and their dispositions (rework, scrap, use as is)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import F

from inventory import services as stock
from inventory.models import Item, Lot
from tracker.audit import audit_record
from tracker.models import Severity
from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.services import alert_clear, alert_raise
from tracker.transactions import service_atomic
from wip import errors
from wip.models import (
    ZERO,
    CheckItem,
    CheckKind,
    CheckResult,
    Defect,
    Disposition,
    Inspection,
    InspectionResult,
    InspectionState,
    Operation,
    OperationRun,
    RunStatus,
    WorkOrder,
    Workstation,
)
from wip.services._common import (
    ALERT_INSPECTION_FAILED,
    _lock_run,
    _now,
    _qty,
    _require_open,
    _run_payload,
    _station_ids,
)
from wip.services.flow import (
    _forwardable,
    _issue_location,
    _new_run,
    _open_defect_quantity,
    _release_forward,
    _resolve_defect_flow,
)


@service_atomic
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
        inspector=actor_or_none(inspector),
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
        if defect.component is not None:
            location = _issue_location(work_order, run)
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
            if defect.rework_to_sequence is not None
            else None
        )
        if target is None:  # the sequence was checked when the disposition was recorded
            raise errors.ValidationFailed(
                f"Defect {defect.pk} reworks at step {defect.rework_to_sequence}, which the routing lacks.",
                field="rework_to_sequence",
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
                "from": run.workstation.code if run.workstation is not None else None,
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
        # Open (an operator reports, the inspector decides): the units are held back when the run
        # completes (``_forwardable``) until ``defect_dispose``.
        if disposition == Disposition.OPEN and quantity > run.quantity - run.scrap_quantity:
            raise errors.ValidationFailed("More defective units than the run has.", field="quantity")
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


@service_atomic
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
    user = actor_or_none(actor)
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


@service_atomic
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
    defect.disposed_by = actor_or_none(actor)
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
