"""The WIP pages offer what can succeed, to whom may do it: Start only with a free place,
an operator's defect left for quality, the inspector's inspection form, a cancel that
asks for a reason, the planner's new work order; constant queries on the quality lists."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories.tracker import user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from wip import services
from wip.models import Defect, Inspection, OperationRun, WorkOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(site_a):
    return make_plant(site_a)


def login(role: str, site) -> Client:
    client = Client()
    client.force_login(user_with_role(role, site))
    return client


def released(plant, number: str, quantity: int = 2) -> WorkOrder:
    order = WorkOrderFactory(routing=plant.routing, number=number, quantity=Decimal(quantity))
    services.work_order_release(work_order=order)
    return order


def run_of(order: WorkOrder, sequence: int) -> OperationRun:
    return OperationRun.objects.get(work_order=order, sequence=sequence, attempt=1)


def to_inspection(order: WorkOrder) -> OperationRun:
    """Steps 10 and 20 done, step 30 (inspection required) done: pending."""
    for sequence in (10, 20, 30):
        run = OperationRun.objects.filter(work_order=order, sequence=sequence).order_by("pk").last()
        services.operation_start(run=run)
        services.operation_complete(run=OperationRun.objects.get(pk=run.pk), good_quantity=run.quantity)
    return run_of(order, 30)


def test_no_start_while_the_station_is_at_capacity(plant):
    first, second = released(plant, "CAP-1"), released(plant, "CAP-2")
    services.operation_start(run=run_of(first, 10))
    operator = login("operator", plant.site)
    body = operator.get("/wip/stations/P-CUT/").content.decode()
    assert f"/wip/runs/{run_of(second, 10).pk}/start/" not in body
    assert "P-CUT already runs 1 job, its capacity" in body
    services.operation_complete(run=run_of(first, 10), good_quantity=Decimal(2))
    body = operator.get("/wip/stations/P-CUT/").content.decode()
    assert f"/wip/runs/{run_of(second, 10).pk}/start/" in body


def test_an_operators_defect_waits_for_the_inspector(plant):
    order = released(plant, "DEF-1")
    run = run_of(order, 10)
    services.operation_start(run=run)
    operator = login("operator", plant.site)
    form = operator.get("/wip/stations/P-CUT/").content.decode()
    assert 'name="disposition"' not in form  # the operator reports; quality decides
    assert '<option value="DENT">Dent</option>' in form  # codes are a pick list
    operator.post(f"/wip/runs/{run.pk}/defect/", {"code": "DENT", "quantity": "1", "description": "edge"})
    defect = Defect.objects.get(code="DENT")
    assert defect.disposition == ""
    operator.post(f"/wip/runs/{run.pk}/complete/")
    assert run_of(order, 20).quantity == 1  # the reported unit is held back
    inspector = login("quality inspector", plant.site)
    page = inspector.get("/wip/quality/").content.decode()
    assert "DENT" in page and "edge" in page
    inspector.post(f"/wip/defects/{defect.pk}/dispose/", {"disposition": "use_as_is"})
    defect.refresh_from_db()
    assert defect.disposition == "use_as_is"
    step20 = OperationRun.objects.filter(work_order=order, sequence=20)
    assert sum(r.quantity for r in step20) == 2  # decided: it goes on (as a batch of its own)


def test_the_inspector_records_an_inspection_with_the_check_items(plant):
    order = released(plant, "INS-1")
    run = to_inspection(order)
    inspector = login("quality inspector", plant.site)
    assert f"/wip/runs/{run.pk}/inspect/" in inspector.get("/wip/quality/").content.decode()
    page = inspector.get(f"/wip/runs/{run.pk}/inspect/").content.decode()
    checks = {c.name: c for c in run.operation.check_items.all()}
    assert "visual" in page and "torque (Nm)" in page and "from 10 to 12" in page
    response = inspector.post(
        f"/wip/runs/{run.pk}/inspect/",
        {f"check-{checks['visual'].pk}": "pass", f"check-{checks['torque'].pk}": "13.5", "defect_code": "DIMENSION"},
    )
    assert response.status_code == 302
    inspection = Inspection.objects.get(run=run)
    assert inspection.result == "fail"
    assert Defect.objects.get(run=run).code == "DIMENSION"
    # Done: the form says so instead of offering a second inspection.
    assert "not waiting for an inspection" in inspector.get(f"/wip/runs/{run.pk}/inspect/").content.decode()


def test_an_operator_cannot_open_the_inspection_of_another_site(plant, site_b):
    other = make_plant(site_b, prefix="Q")
    run = to_inspection(released(other, "INS-B"))
    assert login("quality inspector", plant.site).get(f"/wip/runs/{run.pk}/inspect/").status_code == 404


def test_cancel_asks_for_a_reason_and_a_confirmation(plant):
    order = released(plant, "CAN-1")
    planner = login("planner", plant.site)
    page = planner.get("/wip/work-orders/CAN-1/").content.decode()
    assert 'name="confirm"' in page and 'name="reason"' in page
    planner.post("/wip/work-orders/CAN-1/cancel/", {"reason": "customer withdrew"})
    assert WorkOrder.objects.get(pk=order.pk).status != "cancelled"
    planner.post("/wip/work-orders/CAN-1/cancel/", {"reason": "customer withdrew", "confirm": "1"})
    assert WorkOrder.objects.get(pk=order.pk).status == "cancelled"


def test_a_planner_creates_and_releases_a_work_order(plant):
    planner = login("planner", plant.site)
    assert "New work order" in planner.get("/wip/work-orders/").content.decode()
    form = planner.get("/wip/work-orders/new/").content.decode()
    assert plant.routing.code in form
    response = planner.post(
        "/wip/work-orders/new/",
        {"routing": plant.routing.pk, "quantity": "3", "priority": "4", "due_at": "2026-12-24T14:00", "release": "on"},
    )
    assert response.status_code == 302
    order = WorkOrder.objects.get(item=plant.product, quantity=Decimal(3))
    assert order.status == "released" and order.number.startswith("WO-")
    assert order.due_at.isoformat().startswith("2026-12-24")
    # Planned only, under a number of the planner's choosing; released from the list.
    planner.post(
        "/wip/work-orders/new/", {"routing": plant.routing.pk, "quantity": "1", "priority": "5", "number": "PLN-2"}
    )
    assert WorkOrder.objects.get(number="PLN-2").status == "planned"
    listing = planner.get("/wip/work-orders/").content.decode()
    assert "/wip/work-orders/PLN-2/release/" in listing
    planner.post("/wip/work-orders/PLN-2/release/")
    assert WorkOrder.objects.get(number="PLN-2").status == "released"


def test_an_operator_is_not_offered_planning(plant):
    operator = login("operator", plant.site)
    assert "New work order" not in operator.get("/wip/work-orders/").content.decode()
    assert operator.get("/wip/work-orders/new/").status_code == 403


def test_quality_lists_keep_their_query_count(plant):
    inspector = login("quality inspector", plant.site)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert inspector.get("/wip/quality/").status_code == 200
        return len(ctx.captured_queries)

    to_inspection(released(plant, "QC-1", quantity=1))
    order = released(plant, "QC-D", quantity=2)
    services.operation_start(run=run_of(order, 10))
    services.defect_record(run=run_of(order, 10), code="DENT", quantity=Decimal(1))
    services.operation_pause(run=run_of(order, 10))
    one = queries()
    for n in range(2, 5):
        to_inspection(released(plant, f"QC-{n}", quantity=1))
        other = released(plant, f"QC-D{n}", quantity=2)
        services.operation_start(run=run_of(other, 10))
        services.defect_record(run=run_of(other, 10), code="SCRATCH", quantity=Decimal(1))
        services.operation_pause(run=run_of(other, 10))
    assert queries() == one


def test_board_filters_by_group_late_and_held(plant, site_a):
    import datetime as dt

    from django.utils import timezone

    from tests.factories.wip import WorkstationGroupFactory

    group = WorkstationGroupFactory(site=site_a, code="cutting", name="Cutting")
    plant.cut.group = group
    plant.cut.save()
    late = WorkOrderFactory(
        routing=plant.routing, number="BRD-LATE", quantity=Decimal(1), due_at=timezone.now() - dt.timedelta(hours=1)
    )
    services.work_order_release(work_order=late)
    fine = released(plant, "BRD-FINE")
    held = released(plant, "BRD-HELD")
    for order in (late, fine, held):
        services.operation_arrive(workstation=plant.cut, work_order=order)
    services.hold_place(work_order=held, reason="wait")
    supervisor = login("supervisor", site_a)
    body = supervisor.get("/wip/").content.decode()
    assert all(n in body for n in ("BRD-LATE", "BRD-FINE", "BRD-HELD")) and "P-ASM" in body
    body = supervisor.get("/wip/?show=late").content.decode()
    assert "BRD-LATE" in body and "BRD-FINE" not in body
    body = supervisor.get("/wip/?show=held").content.decode()
    assert "BRD-HELD" in body and "BRD-FINE" not in body
    body = supervisor.get("/wip/?group=cutting").content.decode()
    assert "P-CUT ·" in body and "P-ASM ·" not in body
