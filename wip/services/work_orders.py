"""Work orders: plan, release, complete into stock, cancel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from inventory import services as stock
from inventory.models import Item
from tracker.audit import audit_record
from tracker.models import Location, Site
from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.services import alert_clear
from tracker.transactions import service_atomic
from wip import errors
from wip.models import (
    ZERO,
    BillOfMaterials,
    Defect,
    Disposition,
    Hold,
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
from wip.services._common import (
    ALERT_LATE,
    _check_station_limit,
    _lock_order,
    _lock_runs,
    _now,
    _qty,
    _require_not_held,
    _require_open,
    _run_payload,
    _station_ids,
)
from wip.services.flow import _new_run
from wip.services.states import station_runs_sync


@service_atomic
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
                created_by=actor_or_none(actor),
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


@service_atomic
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
    if first is None:  # there are operations (checked above); this narrows the type
        raise errors.ValidationFailed("The routing has no operations.", field="routing")
    if work_order.bom is not None:
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


@service_atomic
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
        target = last.workstation.location if last is not None and last.workstation is not None else None
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


@service_atomic
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
    for station in Workstation.objects.filter(
        pk__in={r.workstation_id for r in open_runs if r.status == RunStatus.RUNNING}
    ).order_by("pk"):
        station_runs_sync(workstation=station, at=at)
    Hold.objects.open().filter(work_order=work_order).update(
        released_at=at,
        released_by=actor_or_none(actor),
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
