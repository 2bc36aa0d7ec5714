"""WIP reports on a small hand-computed history (Monday 23 Nov 2026, UTC); pages keep
a constant query count; the API is scoped."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.tracker import UserFactory
from tests.factories.wip import WorkOrderFactory, make_plant
from wip import analytics
from wip.models import Defect, Operation, OperationRun, WorkOrder

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 23)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 23, hour, minute, tzinfo=dt.UTC)


def put_run(order, station, sequence, *, qty, queued, started, finished, good, scrap=0, operator=None):
    return OperationRun.objects.create(
        site=order.site,
        work_order=order,
        operation=Operation.objects.get(routing=order.routing, sequence=sequence),
        sequence=sequence,
        attempt=1,
        status="done",
        quantity=D(qty),
        good_quantity=D(good),
        scrap_quantity=D(scrap),
        workstation=station,
        queued_at=queued,
        started_at=started,
        finished_at=finished,
        operator=operator,
    )


@pytest.fixture
def history(site_a):
    """o0: released 06:00, completed 14:00 (9), due 15:00 → on time.
    o1: released 07:00, completed 16:00 (10), due 12:00 → late.
    CUT ran o0 06-10 (9 good, 1 scrap) and o1 10-12 (10 good), operator ann; ASM ran o0 12-13 (9), bob.
    Defects: SCRATCH 3 and DENT 1 at CUT, SCRATCH 2 at ASM. Widget standard cost 20."""
    site_a.time_zone = "UTC"
    site_a.save()
    plant = make_plant(site_a)
    plant.product.standard_cost = D(20)
    plant.product.save()
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    o0, o1 = (WorkOrderFactory(routing=plant.routing, quantity=D(10)) for _ in range(2))
    WorkOrder.objects.filter(pk=o0.pk).update(
        status="completed", released_at=at(6), completed_at=at(14), due_at=at(15), quantity_completed=9
    )
    WorkOrder.objects.filter(pk=o1.pk).update(
        status="completed", released_at=at(7), completed_at=at(16), due_at=at(12), quantity_completed=10
    )
    r1 = put_run(o0, plant.cut, 10, qty=10, queued=at(6), started=at(6), finished=at(10), good=9, scrap=1, operator=ann)
    put_run(o1, plant.cut, 10, qty=10, queued=at(7), started=at(10), finished=at(12), good=10, operator=ann)
    r4 = put_run(o0, plant.assemble, 20, qty=9, queued=at(10), started=at(12), finished=at(13), good=9, operator=bob)
    for run, station, code, qty in (
        (r1, plant.cut, "SCRATCH", 3),
        (r1, plant.cut, "DENT", 1),
        (r4, plant.assemble, "SCRATCH", 2),
    ):
        Defect.objects.create(
            site=site_a,
            work_order=run.work_order,
            run=run,
            workstation=station,
            code=code,
            quantity=D(qty),
            reported_at=at(13),
        )
    return plant


def test_throughput_per_product_and_station(site_a, history):
    r = analytics.throughput(site=site_a, start=DAY, end=DAY)
    assert [(x["week"], x["item__sku"], x["orders"], x["quantity"], x["avg_cycle_hours"]) for x in r.rows] == [
        (DAY, "P-WIDGET", 2, D(19), D("8.5"))
    ]  # (8 h + 9 h) / 2
    s = analytics.throughput(site=site_a, start=DAY, end=DAY, by="station")
    assert [(x["workstation__code"], x["runs"], x["good"], x["avg_cycle_hours"]) for x in s.rows] == [
        ("P-ASM", 1, D(9), D("1.0")),
        ("P-CUT", 2, D(19), D("3.0")),
    ]


def test_on_time_rate(site_a, history):
    r = analytics.on_time(site=site_a, start=DAY, end=DAY)
    assert [(x["completed"], x["on_time"], x["rate"]) for x in r.rows] == [(2, 1, D("50.0"))]


def test_first_pass_yield_and_scrap(site_a, history):
    r = {x["workstation__code"]: x for x in analytics.quality(site=site_a, start=DAY, end=DAY).rows}
    assert (r["P-CUT"]["first_pass_yield"], r["P-CUT"]["scrap"], r["P-CUT"]["scrap_cost"]) == (D("95.0"), D(1), D(20))
    assert (r["P-ASM"]["first_pass_yield"], r["P-ASM"]["scrap"]) == (D("100.0"), D(0))


def test_defect_pareto(site_a, history):
    r = analytics.defect_pareto(site=site_a, start=DAY, end=DAY)
    assert [(x["code"], x["quantity"], x["cumulative_share"]) for x in r.rows] == [
        ("SCRATCH", D(5), D("83.3")),
        ("DENT", D(1), D("100.0")),
    ]
    s = analytics.defect_pareto(site=site_a, start=DAY, end=DAY, by="station")
    assert [(x["code"], x["workstation__code"], x["quantity"]) for x in s.rows][0] == ("SCRATCH", "P-CUT", D(3))


def test_utilisation_per_station_and_operator(site_a, history):
    r = {x["code"]: x for x in analytics.utilisation(site=site_a, start=DAY, end=DAY).rows}
    # CUT busy 4 h + 2 h over Monday's default 06:00-22:00 (16 h) × capacity 1
    assert (r["P-CUT"]["busy_hours"], r["P-CUT"]["available_hours"], r["P-CUT"]["utilisation"]) == (
        D(6),
        D(16),
        D("37.5"),
    )
    o = {x["operator__username"]: x for x in analytics.utilisation(site=site_a, start=DAY, end=DAY, by="operator").rows}
    assert (o["ann"]["runs"], o["ann"]["busy_hours"], o["bob"]["busy_hours"]) == (2, D(6), D(1))


@pytest.mark.parametrize("slug", list(analytics.REPORTS))
def test_report_pages_keep_a_constant_query_count(client, site_a, history, make_user, slug):
    client.force_login(make_user("plant manager", site_a))
    url = f"/wip/analytics/{slug}/?start=2026-11-23&end=2026-11-29"
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(10):
        order = WorkOrderFactory(routing=history.routing, quantity=D(5))
        WorkOrder.objects.filter(pk=order.pk).update(
            status="completed", released_at=at(6), completed_at=at(8 + n % 4), due_at=at(10), quantity_completed=5
        )
        run = put_run(
            order,
            history.test,
            30,
            qty=5,
            queued=at(6),
            started=at(7),
            finished=at(8),
            good=4,
            scrap=1,
            operator=UserFactory(),
        )
        Defect.objects.create(
            site=site_a,
            work_order=order,
            run=run,
            workstation=history.test,
            code=f"C{n}",
            quantity=D(1),
            reported_at=at(9),
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_csv_and_api(client, api_client, site_a, site_b, history, make_user):
    client.force_login(make_user("supervisor", site_a))
    csv = client.get("/wip/analytics/defects/?start=2026-11-23&end=2026-11-23&format=csv").content.decode()
    assert csv.splitlines()[1].startswith("SCRATCH,")
    api_client.force_authenticate(make_user("viewer", site_b))
    assert api_client.get("/api/v1/wip/analytics/on-time/?site=plant-a").status_code == 404
    api_client.force_authenticate(make_user("viewer", site_a))
    body = api_client.get("/api/v1/wip/analytics/on-time/?site=plant-a&start=2026-11-23&end=2026-11-23").json()
    assert body["summary"]["on_time_rate"] == "50.0" and body["rows"][0]["week"] == "2026-11-23"
