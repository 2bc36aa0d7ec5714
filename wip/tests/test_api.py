"""The wip API: a work order through a three-step routing with an inspection,
refusals with clear problems (and nothing changed), scoping and query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from inventory.models import StockLevel, StockReservation
from tests.factories.tracker import user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from tests.scoping import DetailWrite, ScopedEndpointMatrix
from tracker.roles import ROLE_NAMES
from wip import services
from wip.models import Defect, Hold, OperationRun, RunStatus, WorkOrder

pytestmark = pytest.mark.django_db

API = "/api/v1/wip"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def plant(site_a):
    return make_plant(site_a)


@pytest.fixture
def supervisor(plant):
    return client_for(user_with_role("supervisor", plant.site))


def run_id(client, number, sequence, status=None) -> int:
    params = {"work_order": number, "sequence": sequence}
    if status:
        params["status"] = status
    rows = client.get(f"{API}/runs/", params).json()["results"]
    assert rows, f"no run at step {sequence}"
    return max(row["id"] for row in rows)


def post(client, url, data=None, **headers):
    return client.post(url, data or {}, format="json", headers=headers or None)


def assert_problem(response, status_code, code):
    assert response.status_code == status_code, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_three_step_routing_with_rework_by_api(plant, supervisor):
    partner = client_for(user_with_role("partner", plant.site))
    body = {
        "number": "ERP-1001",
        "site": plant.site.code,
        "item": "P-WIDGET",
        "quantity": "10",
        "routing": "P-RT-WIDGET",
        "due_at": "2030-01-10T16:00:00+01:00",
        "priority": 3,
        "external_ref": "SO-77",
    }
    created = post(partner, f"{API}/work-orders/", body, **{"Idempotency-Key": "erp-1001"})
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "planned" and created.json()["bom"] == "P-BOM-WIDGET"
    replay = post(partner, f"{API}/work-orders/", body, **{"Idempotency-Key": "erp-1001"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert WorkOrder.objects.filter(number="ERP-1001").count() == 1

    wo = f"{API}/work-orders/ERP-1001"
    assert post(supervisor, f"{wo}/release/").json()["status"] == "released"
    # Step 10 (cut, consumes 2 steel per unit), started through the order.
    started = post(supervisor, f"{wo}/start/")
    assert started.status_code == 200 and started.json()["sequence"] == 10
    done = post(supervisor, f"{API}/runs/{started.json()['id']}/complete/", {"good_quantity": "10"})
    assert done.status_code == 200, done.content
    # The order moved to assembly by itself; a scan there changes nothing.
    arrived = post(supervisor, f"{wo}/arrive/", {"workstation": "P-ASM"})
    assert arrived.json() == {**arrived.json(), "changed": False, "reason": "already_here"}
    step20 = run_id(supervisor, "ERP-1001", 20, "queued")
    assert post(supervisor, f"{API}/runs/{step20}/start/").status_code == 200
    assert post(supervisor, f"{API}/runs/{step20}/complete/", {"good_quantity": "10"}).status_code == 200
    step30 = run_id(supervisor, "ERP-1001", 30, "queued")
    post(supervisor, f"{API}/runs/{step30}/start/")
    post(supervisor, f"{API}/runs/{step30}/complete/", {"good_quantity": "10"})
    # The inspection fails two units on torque.
    failed = post(
        supervisor,
        f"{API}/runs/{step30}/inspect/",
        {
            "results": [{"check": "visual", "passed": True}, {"check": "torque", "value": "13.1"}],
            "failed_quantity": "2",
            "notes": "torque high",
        },
    )
    assert failed.status_code == 201, failed.content
    assert failed.json()["result"] == "fail"
    assert {r["check"]: r["passed"] for r in failed.json()["results"]} == {"visual": True, "torque": False}
    defects = supervisor.get(f"{API}/defects/", {"work_order": "ERP-1001", "open": "true"}).json()["results"]
    assert len(defects) == 1 and defects[0]["quantity"] == "2.0000"
    disposed = post(
        supervisor, f"{API}/defects/{defects[0]['id']}/dispose/", {"disposition": "rework", "rework_to_sequence": 20}
    )
    assert disposed.status_code == 200 and disposed.json()["disposition"] == "rework"
    # The two go back through assembly and test.
    rework = run_id(supervisor, "ERP-1001", 20, "queued")
    post(supervisor, f"{API}/runs/{rework}/start/")
    post(supervisor, f"{API}/runs/{rework}/complete/", {"good_quantity": "2"})
    retest = run_id(supervisor, "ERP-1001", 30, "queued")
    post(supervisor, f"{API}/runs/{retest}/start/")
    post(supervisor, f"{API}/runs/{retest}/complete/", {"good_quantity": "2"})
    passed = post(
        supervisor,
        f"{API}/runs/{retest}/inspect/",
        {"results": [{"check": "visual", "passed": True}, {"check": "torque", "value": "11.2"}]},
    )
    assert passed.json()["result"] == "pass"
    timeline = supervisor.get(f"{wo}/timeline/").json()
    assert [(s["sequence"], s["attempt"], s["status"]) for s in timeline["steps"]] == [
        (10, 1, "done"),
        (20, 1, "done"),
        (20, 2, "done"),
        (30, 1, "failed"),
        (30, 2, "done"),
    ]
    finished = post(supervisor, f"{wo}/complete/", {"location": "P-STORES"})
    assert finished.status_code == 200, finished.content
    data = finished.json()
    assert data["status"] == "completed" and data["quantity_completed"] == "10.0000"
    assert data["output_lot"] == "ERP-1001"
    # Components left stock through inventory; the finished lot is there.
    levels = {
        (lv.item.sku, lv.lot.code if lv.lot else None): lv.on_hand
        for lv in StockLevel.objects.filter(location=plant.stores).select_related("item", "lot")
    }
    assert levels[("P-WIDGET", "ERP-1001")] == 10
    assert levels[("P-SCREW", None)] == 500 - 40
    assert sum(v for (sku, _), v in levels.items() if sku == "P-STEEL") == 100 - 20
    assert not StockReservation.objects.filter(reference="ERP-1001", status="open").exists()
    trace = supervisor.get("/api/v1/inventory/trace/", {"lot": "P-WIDGET/ERP-1001"})
    assert trace.status_code == 200, trace.content
    inputs = {(node["item"], node["lot"]) for node in trace.json()["tree"]["inputs"]}
    assert ("P-STEEL", "P-STEEL-L1") in inputs
    call_command("verify_ledger")


def snapshot(number):
    wo = WorkOrder.objects.get(number=number)
    return (
        wo.status,
        wo.quantity_completed,
        wo.quantity_scrapped,
        sorted(OperationRun.objects.filter(work_order=wo).values_list("sequence", "status", "good_quantity")),
        sorted(StockLevel.objects.values_list("item_id", "location_id", "lot_id", "on_hand")),
    )


class TestRefusals:
    @pytest.fixture
    def order(self, plant):
        order = WorkOrderFactory(routing=plant.routing, number="WO-R", quantity=Decimal(4))
        services.work_order_release(work_order=order)
        return order

    def test_start_before_predecessor_is_refused(self, supervisor, order):
        before = snapshot("WO-R")
        step20 = run_id(supervisor, "WO-R", 20)
        assert_problem(post(supervisor, f"{API}/runs/{step20}/start/"), 409, "predecessor_not_done")
        assert snapshot("WO-R") == before

    def test_completing_a_held_order_is_refused(self, supervisor, order):
        first = run_id(supervisor, "WO-R", 10)
        post(supervisor, f"{API}/runs/{first}/start/")
        held = post(supervisor, f"{API}/work-orders/WO-R/hold/", {"reason": "suspect material"})
        assert held.status_code == 201
        before = snapshot("WO-R")
        assert_problem(
            post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "4"}), 409, "work_order_on_hold"
        )
        assert_problem(post(supervisor, f"{API}/work-orders/WO-R/complete/"), 409, "work_order_on_hold")
        assert_problem(post(supervisor, f"{API}/runs/{first}/resume/"), 409, "work_order_on_hold")
        assert snapshot("WO-R") == before
        released = post(supervisor, f"{API}/work-orders/WO-R/release-hold/", {"note": "checked"})
        assert released.json()["status"] == "in_progress"
        assert post(supervisor, f"{API}/runs/{first}/resume/").json()["status"] == "running"

    def test_operator_not_allowed_at_station(self, plant, order):
        allowed = user_with_role("operator", plant.site)
        plant.cut.operators.add(allowed)
        stranger = client_for(user_with_role("operator", plant.site))
        first = run_id(stranger, "WO-R", 10)
        assert_problem(post(stranger, f"{API}/runs/{first}/start/"), 403, "operator_not_allowed")
        assert OperationRun.objects.get(pk=first).status == RunStatus.QUEUED
        assert post(client_for(allowed), f"{API}/runs/{first}/start/").status_code == 200

    def test_bad_quantities(self, supervisor, order):
        first = run_id(supervisor, "WO-R", 10)
        post(supervisor, f"{API}/runs/{first}/start/")
        before = snapshot("WO-R")
        assert_problem(
            post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "lots"}), 400, "validation_failed"
        )
        assert_problem(
            post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "-1"}), 400, "validation_failed"
        )
        assert_problem(
            post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "5"}), 400, "validation_failed"
        )
        assert_problem(post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "1.5"}), 400, "wrong_unit")
        assert_problem(
            post(supervisor, f"{API}/runs/{first}/complete/", {"good_quantity": "2"}), 400, "split_not_allowed"
        )
        assert snapshot("WO-R") == before

    def test_wrong_transitions_on_the_order(self, supervisor, order):
        before = snapshot("WO-R")
        assert_problem(post(supervisor, f"{API}/work-orders/WO-R/release/"), 409, "invalid_transition")
        assert_problem(post(supervisor, f"{API}/work-orders/WO-R/complete/"), 409, "invalid_transition")
        assert_problem(
            post(supervisor, f"{API}/work-orders/WO-R/arrive/", {"workstation": "P-TEST"}), 409, "predecessor_not_done"
        )
        assert_problem(post(supervisor, f"{API}/work-orders/WO-R/release-hold/"), 404, "not_found")
        assert snapshot("WO-R") == before
        assert post(supervisor, f"{API}/work-orders/WO-R/cancel/", {"reason": "dup"}).json()["status"] == "cancelled"
        assert_problem(post(supervisor, f"{API}/work-orders/WO-R/cancel/"), 409, "invalid_transition")

    def test_inspection_input(self, supervisor, order):
        step10 = run_id(supervisor, "WO-R", 10)
        assert_problem(post(supervisor, f"{API}/runs/{step10}/inspect/", {"passed": True}), 409, "invalid_transition")
        # Drive to the inspection.
        for seq in (10, 20, 30):
            rid = run_id(supervisor, "WO-R", seq, "queued")
            post(supervisor, f"{API}/runs/{rid}/start/")
            post(supervisor, f"{API}/runs/{rid}/complete/", {"good_quantity": "4"})
        step30 = run_id(supervisor, "WO-R", 30)
        assert_problem(
            post(supervisor, f"{API}/runs/{step30}/inspect/", {"results": [{"check": "visual", "passed": True}]}),
            400,
            "validation_failed",
        )
        assert_problem(
            post(
                supervisor,
                f"{API}/runs/{step30}/inspect/",
                {"results": [{"check": "visual", "passed": True}, {"check": "torque"}]},
            ),
            400,
            "validation_failed",
        )
        assert_problem(
            post(
                supervisor,
                f"{API}/runs/{step30}/inspect/",
                {
                    "results": [
                        {"check": "visual", "passed": True},
                        {"check": "torque", "value": 11},
                        {"check": "colour", "passed": True},
                    ]
                },
            ),
            400,
            "validation_failed",
        )
        assert not OperationRun.objects.get(pk=step30).inspections.exists()
        defect = post(
            supervisor,
            f"{API}/runs/{step30}/defect/",
            {"code": "SCRATCH", "quantity": "1", "disposition": "rework", "rework_to_sequence": 40},
        )
        assert_problem(defect, 400, "validation_failed")
        assert not Defect.objects.filter(code="SCRATCH").exists()

    def test_create_refusals(self, plant, site_b, supervisor):
        other = make_plant(site_b, prefix="Q")
        body = {
            "number": "NEW-1",
            "site": plant.site.code,
            "item": "P-WIDGET",
            "quantity": "5",
            "routing": "P-RT-WIDGET",
        }
        assert post(supervisor, f"{API}/work-orders/", body).status_code == 201
        assert_problem(post(supervisor, f"{API}/work-orders/", body), 409, "duplicate")
        assert_problem(
            post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-2", "routing": other.routing.code}),
            400,
            "validation_failed",
        )  # another site's routing does not exist for this user
        assert_problem(
            post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-3", "site": site_b.code}),
            400,
            "validation_failed",
        )
        assert_problem(
            post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-4", "quantity": "0"}),
            400,
            "validation_failed",
        )
        assert_problem(
            post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-5", "due_at": "tomorrow"}),
            400,
            "validation_failed",
        )
        key = {"Idempotency-Key": "k-1"}
        assert post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-6"}, **key).status_code == 201
        assert_problem(
            post(supervisor, f"{API}/work-orders/", {**body, "number": "NEW-7"}, **key), 422, "idempotency_key_reused"
        )
        assert set(WorkOrder.objects.filter(site=plant.site).values_list("number", flat=True)) == {"NEW-1", "NEW-6"}

    def test_viewer_cannot_write(self, plant, order):
        viewer = client_for(user_with_role("viewer", plant.site))
        first = run_id(viewer, "WO-R", 10)
        assert post(viewer, f"{API}/runs/{first}/start/").status_code in (403, 404)
        assert post(viewer, f"{API}/work-orders/WO-R/cancel/").status_code in (403, 404)
        operator = client_for(user_with_role("operator", plant.site))
        assert post(operator, f"{API}/work-orders/WO-R/cancel/").status_code in (403, 404)
        assert WorkOrder.objects.get(number="WO-R").status == "released"


# --- scoping ---------------------------------------------------------------------------

WIP_VIEWERS = tuple(r for r in ROLE_NAMES if r not in ("warehouse clerk", "partner"))


def _plant_for(site):
    return make_plant(site, prefix=site.code.upper())


def _released_order(site):
    plant = _plant_for(site)
    order = WorkOrderFactory(routing=plant.routing, number=f"{site.code}-WO", quantity=Decimal(2))
    services.work_order_release(work_order=order)
    return plant, order


class TestWorkstationsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/workstations/"
    viewer_roles = WIP_VIEWERS
    detail_reads = {"wip-workstation-dispatch-list": "dispatch/"}

    def make_object(self, site):
        return _plant_for(site).cut


class TestRoutingsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/routings/"
    viewer_roles = tuple(r for r in ROLE_NAMES if r != "warehouse clerk")

    def make_object(self, site):
        return _plant_for(site).routing


def _cut_station(order) -> dict:
    return {"workstation": f"{order.site.code.upper()}-CUT"}


def _held(order) -> None:
    services.hold_place(work_order=order, reason="check")


class TestWorkOrdersScoped(ScopedEndpointMatrix):
    list_url = f"{API}/work-orders/"
    key_field = "number"
    detail_reads = {"wip-workorder-timeline": "timeline/"}
    detail_writes = {
        "wip-workorder-release": DetailWrite(suffix="release/"),
        "wip-workorder-start": DetailWrite(suffix="start/"),
        "wip-workorder-arrive": DetailWrite(suffix="arrive/", body=_cut_station),
        "wip-workorder-complete": DetailWrite(suffix="complete/"),
        "wip-workorder-hold": DetailWrite(suffix="hold/", body={"reason": "check"}),
        "wip-workorder-release-hold": DetailWrite(suffix="release-hold/", body={"note": "ok"}, prepare=_held),
        "wip-workorder-cancel": DetailWrite(suffix="cancel/", body={"reason": "no longer needed"}),
    }

    def make_object(self, site):
        return _released_order(site)[1]


class TestRunsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/runs/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS
    detail_writes = {
        "wip-run-start": DetailWrite(suffix="start/"),
        "wip-run-pause": DetailWrite(suffix="pause/", body={"reason": "break"}),
        "wip-run-resume": DetailWrite(suffix="resume/"),
        "wip-run-complete": DetailWrite(suffix="complete/", body={"good_quantity": "2"}),
        "wip-run-skip": DetailWrite(suffix="skip/", body={"reason": "not needed"}),
        "wip-run-inspect": DetailWrite(suffix="inspect/", body={"passed": True}),
        "wip-run-defect": DetailWrite(suffix="defect/", body={"code": "DENT", "quantity": "1", "disposition": "scrap"}),
    }

    def make_object(self, site):
        return OperationRun.objects.filter(work_order=_released_order(site)[1]).first()

    def object_key(self, obj):
        return str(obj.pk)


class TestDefectsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/defects/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS
    detail_writes = {"wip-defect-dispose": DetailWrite(suffix="dispose/", body={"disposition": "use_as_is"})}

    def make_object(self, site):
        _, order = _released_order(site)
        run = OperationRun.objects.get(work_order=order, sequence=10)
        services.operation_start(run=run)
        services.operation_complete(run=run, good_quantity=1, scrap_quantity=1, scrap_code="BURR")
        return Defect.objects.get(run=run)

    def object_key(self, obj):
        return str(obj.pk)


class TestHoldsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/holds/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS
    detail_writes = {"wip-hold-release": DetailWrite(suffix="release/", body={"note": "checked"})}

    def make_object(self, site):
        return services.hold_place(work_order=_released_order(site)[1], reason="check")

    def object_key(self, obj):
        return str(obj.pk)


class TestInspectionsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/inspections/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS

    def make_object(self, site):
        _, order = _released_order(site)
        for sequence in (10, 20, 30):
            run = OperationRun.objects.get(work_order=order, sequence=sequence)
            services.operation_start(run=run)
            services.operation_complete(run=run, good_quantity=order.quantity)
        return services.inspection_record(
            run=run, results=[{"check": "visual", "passed": True}, {"check": "torque", "value": Decimal("11")}]
        )

    def object_key(self, obj):
        return str(obj.pk)


def test_actions_on_another_sites_order_are_not_found(plant, site_b, supervisor):
    other = make_plant(site_b, prefix="Q")
    order = WorkOrderFactory(routing=other.routing, number="Q-WO", quantity=Decimal(1))
    services.work_order_release(work_order=order)
    run = OperationRun.objects.filter(work_order=order, sequence=10).get()
    for url in (
        f"{API}/work-orders/Q-WO/release/",
        f"{API}/work-orders/Q-WO/cancel/",
        f"{API}/work-orders/Q-WO/hold/",
        f"{API}/runs/{run.pk}/start/",
    ):
        assert_problem(post(supervisor, url, {"reason": "x"}), 404, "not_found")
    # Arriving at another site's station: that station does not exist for this user.
    mine = WorkOrderFactory(routing=plant.routing, number="P-WO", quantity=Decimal(1))
    services.work_order_release(work_order=mine)
    assert_problem(
        post(supervisor, f"{API}/work-orders/P-WO/arrive/", {"workstation": "Q-CUT"}), 400, "validation_failed"
    )
    assert WorkOrder.objects.get(number="Q-WO").status == "released"
    assert not Hold.objects.exists()


# --- query counts --------------------------------------------------------------------


def _orders(plant, n, start=0):
    for i in range(start, start + n):
        order = WorkOrderFactory(routing=plant.routing, number=f"QC-{i:03d}", quantity=Decimal(1))
        services.work_order_release(work_order=order)


@pytest.mark.parametrize(
    "url",
    [
        f"{API}/workstations/P-CUT/dispatch/",
        f"{API}/work-orders/",
        f"{API}/runs/",
        f"{API}/workstations/",
        f"{API}/load/?site=plant-a",
        f"{API}/routings/",
    ],
)
def test_constant_query_count(plant, supervisor, django_assert_max_num_queries, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _orders(plant, 1)
    with CaptureQueriesContext(connection) as one:
        assert supervisor.get(url).status_code == 200
    _orders(plant, 6, start=1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = supervisor.get(url)
    assert response.status_code == 200


def test_dispatch_list_by_site_rule(plant, supervisor):
    from tests.factories.wip import WorkOrderFactory as F

    urgent = F(routing=plant.routing, number="D-URGENT", quantity=Decimal(1), priority=1)
    early = F(
        routing=plant.routing,
        number="D-EARLY",
        quantity=Decimal(5),
        priority=5,
        due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    for order in (early, urgent):
        services.work_order_release(work_order=order)
    rows = supervisor.get(f"{API}/workstations/P-CUT/dispatch/").json()
    assert rows["rule"] == "priority_fifo"
    assert [r["work_order"] for r in rows["results"]] == ["D-URGENT", "D-EARLY"]
    plant.site.settings = {"dispatch_rule": "edd"}
    plant.site.save()
    rows = supervisor.get(f"{API}/workstations/P-CUT/dispatch/").json()
    assert rows["rule"] == "edd"
    assert [r["work_order"] for r in rows["results"]] == ["D-EARLY", "D-URGENT"]
    assert rows["results"][0]["eta"] is not None


def test_metrics_endpoint(plant, supervisor):
    response = supervisor.get(f"{API}/metrics/", {"site": plant.site.code})
    assert response.status_code == 200
    assert {s["workstation"] for s in response.json()["stations"]} == {"P-CUT", "P-ASM", "P-TEST"}
    assert_problem(
        supervisor.get(f"{API}/metrics/", {"site": plant.site.code, "from": "yesterday"}), 400, "validation_failed"
    )
    assert_problem(supervisor.get(f"{API}/metrics/", {"site": "plant-b"}), 404, "not_found")
