"""The services: a work order through its routing, quality, holds and the rules they refuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from inventory.models import StockLevel, StockReservation
from tests.factories.tracker import user_with_role
from tests.factories.wip import OperationFactory, RoutingFactory, WorkOrderFactory, make_plant
from tracker.models import Alert
from wip import errors, services
from wip.models import Defect, OperationRun, RunStatus, WorkOrderStatus

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def minutes(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def on_hand(item, location) -> Decimal:
    return sum((lv.on_hand for lv in StockLevel.objects.filter(item=item, location=location)), Decimal(0))


def runs(work_order):
    return list(OperationRun.objects.filter(work_order=work_order).order_by("sequence", "pk"))


@pytest.fixture
def plant(site_a):
    return make_plant(site_a)


@pytest.fixture
def order(plant):
    return WorkOrderFactory(routing=plant.routing, number="WO-1", quantity=Decimal("10"), due_at=minutes(24 * 60))


def release(order):
    return services.work_order_release(work_order=order, at=T0)


def run_at(order, sequence, status=None):
    qs = OperationRun.objects.filter(work_order=order, sequence=sequence)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-pk").first()


def test_release_creates_runs_and_reserves(plant, order):
    release(order)
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.RELEASED
    assert [(r.sequence, r.status) for r in runs(order)] == [(10, "queued"), (20, "waiting"), (30, "waiting")]
    first = run_at(order, 10)
    assert first.workstation == plant.cut
    assert first.planned_minutes == Decimal("30")  # 10 setup + 2 × 10
    reserved = {r.item.sku: r.quantity for r in StockReservation.objects.filter(reference="WO-1")}
    assert reserved == {"P-STEEL": Decimal("20"), "P-SCREW": Decimal("40")}
    with pytest.raises(errors.InvalidTransition):
        release(order)


def test_release_without_stock_changes_nothing(site_a):
    plant = make_plant(site_a, steel_qty=10)
    order = WorkOrderFactory(routing=plant.routing, number="WO-BIG", quantity=Decimal("10"))
    from inventory.errors import InsufficientStock

    with pytest.raises(InsufficientStock):
        release(order)
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PLANNED
    assert not OperationRun.objects.filter(work_order=order).exists()
    assert not StockReservation.objects.filter(reference="WO-BIG").exists()


def test_full_flow_with_failed_inspection_and_rework(plant, order):
    operator = user_with_role("operator", plant.site)
    release(order)
    services.operation_start(run=run_at(order, 10), operator=operator, at=minutes(5))
    services.operation_complete(run=run_at(order, 10), good_quantity=10, actor=operator, at=minutes(35))
    assert on_hand(plant.steel, plant.stores) == Decimal("80")
    second = run_at(order, 20)
    assert second.status == RunStatus.QUEUED and second.workstation == plant.assemble
    services.operation_start(run=second, operator=operator, at=minutes(40))
    services.operation_complete(run=second, good_quantity=9, scrap_quantity=1, actor=operator, at=minutes(75))
    assert on_hand(plant.screws, plant.stores) == Decimal("460")  # 4 × (9 + 1)
    third = run_at(order, 30)
    assert third.quantity == Decimal("9")
    services.operation_start(run=third, operator=operator, at=minutes(80))
    services.operation_complete(run=third, good_quantity=9, actor=operator, at=minutes(90))
    with pytest.raises(errors.InspectionPending):
        services.work_order_complete(work_order=order, at=minutes(91))
    inspection = services.inspection_record(
        run=run_at(order, 30),
        inspector=operator,
        failed_quantity=2,
        at=minutes(92),
        results=[{"check": "visual", "passed": True}, {"check": "torque", "value": "12.5"}],
    )
    assert inspection.result == "fail"
    assert Alert.objects.filter(kind="wip.inspection_failed").count() == 1
    defect = Defect.objects.get(inspection=inspection)
    assert defect.quantity == 2 and defect.disposition == ""
    # Rework the two back to assembly (step 20): new runs for 20, then 30.
    services.defect_dispose(defect=defect, disposition="rework", rework_to_sequence=20, at=minutes(95))
    failed = run_at(order, 30, RunStatus.FAILED)
    assert failed.good_quantity == 7 and failed.released_quantity == 7
    rework = run_at(order, 20, RunStatus.QUEUED)
    assert rework.quantity == 2 and rework.attempt == 2 and rework.rework_of == failed
    services.operation_start(run=rework, operator=operator, at=minutes(100))
    services.operation_complete(run=rework, good_quantity=2, at=minutes(110))
    assert on_hand(plant.screws, plant.stores) == Decimal("460")  # rework consumes no new components
    retest = run_at(order, 30, RunStatus.QUEUED)
    assert retest.attempt == 2 and retest.quantity == 2
    services.operation_start(run=retest, operator=operator, at=minutes(112))
    services.operation_complete(run=retest, good_quantity=2, at=minutes(115))
    services.inspection_record(
        run=retest, at=minutes(116), results=[{"check": "visual", "passed": True}, {"check": "torque", "value": "11"}]
    )
    services.work_order_complete(work_order=order, location=plant.stores, at=minutes(120))
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.COMPLETED
    assert order.quantity_completed == Decimal("9")
    assert order.quantity_scrapped == Decimal("1")
    assert order.output_lot.code == "WO-1"
    assert on_hand(plant.product, plant.stores) == Decimal("9")
    assert not StockReservation.objects.filter(reference="WO-1", status="open").exists()
    from inventory.selectors import trace_backward

    admin = user_with_role(None, is_superuser=True)
    tree = trace_backward(user=admin, lot=order.output_lot)
    assert {node["lot"] for node in tree["inputs"]} >= {"P-STEEL-L1"}
    call_command("verify_ledger")


def test_invalid_transitions(plant, order):
    operator = user_with_role("operator", plant.site)
    with pytest.raises(errors.InvalidTransition):
        services.operation_arrive(workstation=plant.cut, work_order=order, strict=True)
    release(order)
    with pytest.raises(errors.PredecessorNotDone):
        services.operation_start(run=run_at(order, 20), operator=operator)
    first = run_at(order, 10)
    with pytest.raises(errors.InvalidTransition):
        services.operation_complete(run=first, good_quantity=10)
    services.operation_start(run=first, operator=operator, at=minutes(1))
    with pytest.raises(errors.SplitNotAllowed):
        services.operation_complete(run=first, good_quantity=5)
    with pytest.raises(errors.ValidationFailed):
        services.operation_complete(run=first, good_quantity=11)
    services.hold_place(work_order=order, reason="material check", at=minutes(2))
    first.refresh_from_db()
    assert first.status == RunStatus.PAUSED
    with pytest.raises(errors.WorkOrderOnHold):
        services.operation_complete(run=first, good_quantity=10)
    with pytest.raises(errors.WorkOrderOnHold):
        services.operation_resume(run=first)
    with pytest.raises(errors.WorkOrderOnHold):
        services.work_order_complete(work_order=order)
    hold = order.holds.get()
    services.hold_release(hold=hold, at=minutes(3))
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.IN_PROGRESS
    services.operation_resume(run=first, at=minutes(13))
    first.refresh_from_db()
    assert first.paused_seconds == 11 * 60


def test_operator_not_allowed(plant, order):
    allowed = user_with_role("operator", plant.site)
    other = user_with_role("operator", plant.site)
    plant.cut.operators.add(allowed)
    release(order)
    with pytest.raises(errors.OperatorNotAllowed):
        services.operation_start(run=run_at(order, 10), operator=other)
    services.operation_start(run=run_at(order, 10), operator=allowed)


def test_capacity_is_enforced(plant):
    a = WorkOrderFactory(routing=plant.routing, quantity=Decimal("1"))
    b = WorkOrderFactory(routing=plant.routing, quantity=Decimal("1"))
    release(a)
    release(b)
    services.operation_start(run=run_at(a, 10))
    with pytest.raises(errors.StationAtCapacity):
        services.operation_start(run=run_at(b, 10))


def test_arrival_is_idempotent_and_ignores_stale_reads(site_a):
    plant = make_plant(site_a)
    from tests.factories.wip import WorkstationFactory, WorkstationGroupFactory

    group = WorkstationGroupFactory(site=site_a, code="presses")
    p1 = WorkstationFactory(site=site_a, code="PRESS-1", group=group)
    p2 = WorkstationFactory(site=site_a, code="PRESS-2", group=group)
    routing = RoutingFactory(site=site_a, item=plant.product)
    OperationFactory(routing=routing, sequence=10, group=group)
    order = WorkOrderFactory(routing=routing, quantity=Decimal("1"), bom=None)
    services.work_order_release(work_order=order, at=T0)
    run = run_at(order, 10)
    assert run.status == RunStatus.QUEUED and run.workstation is None
    result = services.operation_arrive(workstation=p1, work_order=order, occurred_at=minutes(5))
    assert result.changed and result.run.workstation == p1
    again = services.operation_arrive(workstation=p1, work_order=order, occurred_at=minutes(6))
    assert not again.changed and again.reason == "already_here"
    stale = services.operation_arrive(workstation=p2, work_order=order, occurred_at=minutes(4))
    assert not stale.changed and stale.reason == "stale"
    moved = services.operation_arrive(workstation=p2, work_order=order, occurred_at=minutes(7))
    assert moved.changed and moved.run.workstation == p2
    wrong = services.operation_arrive(workstation=plant.cut, work_order=order, occurred_at=minutes(8))
    assert not wrong.changed and wrong.reason == "wrong_station"
    with pytest.raises(errors.WrongStation):
        services.operation_arrive(workstation=plant.cut, work_order=order, occurred_at=minutes(8), strict=True)


def test_split_moves_part_of_the_batch_on(plant, order):
    release(order)
    services.operation_start(run=run_at(order, 10), at=minutes(1))
    services.operation_complete(run=run_at(order, 10), good_quantity=10, at=minutes(30))
    services.operation_start(run=run_at(order, 20), at=minutes(31))
    services.operation_complete(run=run_at(order, 20), good_quantity=4, at=minutes(50))
    rest = run_at(order, 20, RunStatus.QUEUED)
    assert rest.quantity == 6 and rest.split_from is not None
    nxt = run_at(order, 30, RunStatus.QUEUED)
    assert nxt.quantity == 4
    services.operation_start(run=rest, at=minutes(51))
    services.operation_complete(run=rest, good_quantity=6, at=minutes(70))
    batches = sorted(r.quantity for r in OperationRun.objects.filter(work_order=order, sequence=30))
    assert batches == [4, 6]


def test_scrap_disposition_and_use_as_is(plant, order):
    release(order)
    services.operation_start(run=run_at(order, 10), at=minutes(1))
    services.operation_complete(run=run_at(order, 10), good_quantity=10, at=minutes(30))
    services.operation_start(run=run_at(order, 20), at=minutes(31))
    services.operation_complete(run=run_at(order, 20), good_quantity=10, at=minutes(60))
    test = run_at(order, 30)
    services.operation_start(run=test, at=minutes(61))
    services.operation_complete(run=test, good_quantity=10, at=minutes(70))
    services.inspection_record(
        run=test,
        failed_quantity=3,
        results=[{"check": "visual", "passed": False}, {"check": "torque", "value": 11}],
        at=minutes(71),
    )
    defect = Defect.objects.get(run=test)
    with pytest.raises(errors.InvalidTransition):
        services.work_order_complete(work_order=order, location=plant.stores)
    services.defect_dispose(defect=defect, disposition="scrap", at=minutes(72))
    assert not Alert.objects.filter(kind="wip.inspection_failed", cleared_at__isnull=True).exists()
    services.work_order_complete(work_order=order, location=plant.stores, at=minutes(80))
    order.refresh_from_db()
    assert order.quantity_completed == 7 and order.quantity_scrapped == 3
    call_command("verify_ledger")


def test_cancel_releases_reservations(plant, order):
    release(order)
    services.work_order_cancel(work_order=order, reason="customer cancelled")
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    assert not StockReservation.objects.filter(reference="WO-1", status="open").exists()
    assert set(OperationRun.objects.filter(work_order=order).values_list("status", flat=True)) == {"skipped"}
    with pytest.raises(errors.InvalidTransition):
        services.work_order_cancel(work_order=order)


def test_lot_hold_blocks_the_lot_through_inventory(plant):
    lot = plant.steel_lots[0]
    hold = services.hold_place(lot=lot, reason="supplier complaint")
    lot.refresh_from_db()
    assert lot.status == "on_hold"
    second = services.hold_place(lot=lot, reason="lab check")
    services.hold_release(hold=hold, note="complaint closed")
    lot.refresh_from_db()
    assert lot.status == "on_hold"  # another hold is still open
    services.hold_release(hold=second)
    lot.refresh_from_db()
    assert lot.status == "available"
    with pytest.raises(errors.InvalidTransition):
        services.hold_release(hold=second)
    with pytest.raises(errors.ValidationFailed):
        services.hold_place(reason="nothing named")
