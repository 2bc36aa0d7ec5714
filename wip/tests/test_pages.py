"""The WIP pages: they render, act through the services, stay in the user's site
and keep a constant query count as work orders grow."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories.tracker import user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from wip import services
from wip.models import Defect, OperationRun, RunStatus, WorkOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(site_a):
    return make_plant(site_a)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def supervisor(plant):
    return login(user_with_role("supervisor", plant.site))


def released(plant, number, quantity=2, **kwargs):
    order = WorkOrderFactory(routing=plant.routing, number=number, quantity=Decimal(quantity), **kwargs)
    services.work_order_release(work_order=order)
    return order


def test_pages_render(plant, supervisor):
    order = released(plant, "PG-1")
    run = OperationRun.objects.get(work_order=order, sequence=10)
    services.operation_start(run=run)
    services.operation_complete(run=run, good_quantity=1, scrap_quantity=1, scrap_code="BURR")
    services.hold_place(work_order=order, reason="check the burrs")
    pages = {
        "/wip/": ["PG-1", "P-ASM", 'data-live="workorder.moved operation.started operation.completed'],
        "/wip/stations/": ["P-CUT", "queued at"],
        "/wip/stations/P-ASM/": ["PG-1", "Scan a traveler"],
        "/wip/work-orders/": ["PG-1"],
        "/wip/work-orders/PG-1/": ["Timeline", "<svg", "BURR", "check the burrs"],
        "/wip/bottlenecks/": ["Utilisation", "<svg", "P-CUT", "Little"],
        "/wip/quality/": ["check the burrs", "Recent inspections"],
        "/": ["Work in progress", "on hold"],
    }
    for url, texts in pages.items():
        response = supervisor.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for text in texts:
            assert text in body, (url, text)
        assert "<script>" not in body  # no inline scripts (CSP)


def test_operator_works_through_the_station_page(plant):
    operator = user_with_role("operator", plant.site)
    client = login(operator)
    order = released(plant, "PG-OP")
    run = OperationRun.objects.get(work_order=order, sequence=10)
    response = client.post(f"/wip/runs/{run.pk}/start/", {"workstation": "P-CUT"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.operator == operator
    client.post(f"/wip/runs/{run.pk}/complete/")  # one tap: all good
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.good_quantity == 2
    # A second start is refused with a message, not an error page.
    response = client.post(f"/wip/runs/{run.pk}/start/", follow=True)
    assert response.status_code == 200
    assert "not queued" in response.content.decode()
    nxt = OperationRun.objects.get(work_order=order, sequence=20)
    client.post(f"/wip/runs/{nxt.pk}/start/")
    client.post(f"/wip/runs/{nxt.pk}/defect/", {"code": "DENT", "quantity": "1", "disposition": "scrap"})
    assert Defect.objects.get(code="DENT").disposition == "scrap"


def test_traveler_scan_moves_the_order(site_a):
    plant = make_plant(site_a)
    from tests.factories.wip import OperationFactory, RoutingFactory, WorkstationFactory, WorkstationGroupFactory

    group = WorkstationGroupFactory(site=site_a, code="ovens")
    WorkstationFactory(site=site_a, code="OVEN-1", group=group)
    routing = RoutingFactory(site=site_a, item=plant.product)
    OperationFactory(routing=routing, sequence=10, group=group)
    order = WorkOrderFactory(routing=routing, number="PG-SCAN", quantity=Decimal(1), bom=None)
    services.work_order_release(work_order=order)
    client = login(user_with_role("operator", site_a))
    client.post("/wip/stations/OVEN-1/scan/", {"traveler": "PG-SCAN"})
    assert OperationRun.objects.get(work_order=order).workstation.code == "OVEN-1"
    response = client.post("/wip/stations/OVEN-1/scan/", {"traveler": "NOPE"}, follow=True)
    assert "No work order" in response.content.decode()


def test_pages_stay_in_the_users_site(plant, site_b, supervisor):
    other = make_plant(site_b, prefix="Q")
    order = WorkOrderFactory(routing=other.routing, number="Q-WO", quantity=Decimal(1))
    services.work_order_release(work_order=order)
    run = OperationRun.objects.get(work_order=order, sequence=10)
    for url in ("/wip/stations/Q-CUT/", "/wip/work-orders/Q-WO/"):
        assert supervisor.get(url).status_code == 404
    assert supervisor.post(f"/wip/runs/{run.pk}/start/").status_code == 404
    assert supervisor.post("/wip/work-orders/Q-WO/cancel/").status_code == 404
    assert "Q-WO" not in supervisor.get("/wip/").content.decode()
    assert WorkOrder.objects.get(number="Q-WO").status == "released"
    viewer = login(user_with_role("viewer", plant.site))
    mine = released(plant, "P-MINE")
    run = OperationRun.objects.get(work_order=mine, sequence=10)
    assert viewer.post(f"/wip/runs/{run.pk}/start/").status_code == 403
    assert OperationRun.objects.get(pk=run.pk).status == RunStatus.QUEUED


@pytest.mark.parametrize(
    "url", ["/wip/", "/wip/stations/P-CUT/", "/wip/stations/", "/wip/work-orders/", "/wip/bottlenecks/"]
)
def test_page_query_count_is_constant(plant, supervisor, url, django_assert_max_num_queries):
    released(plant, "QC-0", due_at=None)
    with CaptureQueriesContext(connection) as one:
        assert supervisor.get(url).status_code == 200
    for n in range(1, 8):
        released(plant, f"QC-{n}", quantity=1)
    started = OperationRun.objects.filter(work_order__number="QC-1", sequence=10).get()
    services.operation_start(run=started)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert supervisor.get(url).status_code == 200


def _bottlenecks_after(plant, supervisor, minutes: int) -> str:
    """The bottlenecks page over the last 8 h of a site that began ``minutes`` ago, with one order
    completed a minute ago (released ten before): the window is the site's life so far."""
    from django.utils import timezone

    from tracker.models import Site

    now = timezone.now()
    Site.objects.filter(pk=plant.site.pk).update(created_at=now - timezone.timedelta(minutes=minutes))
    order = released(plant, f"PG-LL-{minutes}")
    WorkOrder.objects.filter(pk=order.pk).update(
        status="completed",
        released_at=now - timezone.timedelta(minutes=11),
        completed_at=now - timezone.timedelta(minutes=1),
    )
    response = supervisor.get("/wip/bottlenecks/?hours=8")
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def test_bottlenecks_window_under_an_hour_counts_rather_than_extrapolates(plant, supervisor):
    body = _bottlenecks_after(plant, supervisor, minutes=12)
    window = body[body.index('<p class="muted window">') :].split("</p>")[0]
    assert "(12 min)" in window and " h)" not in window, window
    assert "1 order completed in the 12 min measured so far: too short a window" in body
    assert "orders/h" not in body and "window too short" in body  # nor per station


def test_bottlenecks_rates_over_a_longer_window_are_rounded(plant, supervisor):
    body = _bottlenecks_after(plant, supervisor, minutes=180)
    assert "(3.0 h)" in body
    assert "1 order completed in 3.0 h = 0.3 orders/h; × average release → completion 10 min" in body


def test_bottlenecks_shares_are_whole_percents_like_every_overview(plant, supervisor):
    order = released(plant, "PG-PCT")
    run = OperationRun.objects.get(work_order=order, sequence=10)
    services.operation_start(run=run)
    services.operation_complete(run=run, good_quantity=1, scrap_quantity=1, scrap_code="BURR")
    body = supervisor.get("/wip/bottlenecks/?hours=8").content.decode()
    assert '<td data-label="Scrap" class="num">50 %</td>' in body
    assert '<div class="tile"><span class="num">50 %</span> scrap rate</div>' in body
    assert not re.search(r"\d%(?!\")", body)  # no "78%" beside "78 %" (an SVG's width="100%" aside)


def test_stations_list_names_a_stations_group_not_its_code(plant, supervisor):
    from tests.factories.wip import WorkstationFactory, WorkstationGroupFactory

    group = WorkstationGroupFactory(site=plant.site, code="site-a-ovens", name="Curing ovens")
    WorkstationFactory(site=plant.site, code="OVEN-1", group=group)
    body = supervisor.get("/wip/stations/").content.decode()
    assert "group Curing ovens" in body and "site-a-ovens" not in body
