"""The OEE API: scoping of station states, stop reasons, stop / resume and the
OEE report; query counts that do not grow with rows; the report's figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories.tracker import user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from tests.scoping import DetailWrite, ScopedEndpointMatrix, covers
from wip import services
from wip.models import OperationRun, ReasonCode, StationState, WorkingHours

API = "/api/v1/wip"
WIP_VIEWERS = ("plant manager", "planner", "supervisor", "operator", "quality inspector", "viewer")


def _jam(site) -> ReasonCode:
    mechanical, _ = ReasonCode.objects.get_or_create(site=site, code="mechanical", defaults={"name": "Mechanical"})
    jam, _ = ReasonCode.objects.get_or_create(site=site, code="jam", defaults={"name": "Jam", "parent": mechanical})
    return jam


def _station(site):
    plant = make_plant(site, prefix=site.code.upper())
    _jam(site)
    return plant.cut


def _stopped(station) -> None:
    services.station_stop(workstation=station, reason=ReasonCode.objects.get(site=station.site, code="jam"))


class TestStationStopResumeScoped(ScopedEndpointMatrix):
    list_url = f"{API}/workstations/"
    viewer_roles = WIP_VIEWERS
    detail_writes = {
        "wip-workstation-stop": DetailWrite(suffix="stop/", body={"reason": "jam"}),
        "wip-workstation-resume": DetailWrite(suffix="resume/", prepare=_stopped),
    }

    def make_object(self, site):
        return _station(site)


class TestStationStatesScoped(ScopedEndpointMatrix):
    list_url = f"{API}/station-states/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS
    detail_writes = {"wip-stationstate-reason": DetailWrite(suffix="reason/", body={"reason": "jam"})}

    def make_object(self, site):
        station = _station(site)
        row, _ = services.station_device_signal(
            workstation=station, state="stopped", at=dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
        )
        return row


class TestStopReasonsScoped(ScopedEndpointMatrix):
    list_url = f"{API}/stop-reasons/"
    key_field = "id"
    viewer_roles = WIP_VIEWERS

    def make_object(self, site):
        return _jam(site)


@pytest.fixture
def sites(site_a, site_b):
    for site in (site_a, site_b):
        site.time_zone = "UTC"
        site.save()
    return site_a, site_b


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def _history(site, orders: int = 1):
    """CUT on Monday 23 November 2026 (calendar 06:00-14:00): each order of 1
    runs 30 minutes from 06:00 on; a 30-minute jam at 12:00."""
    plant = make_plant(site, prefix=site.code.upper())
    WorkingHours.objects.create(site=site, weekday=0, start=dt.time(6), end=dt.time(14))
    plant.routing.operations.filter(sequence=10).update(ideal_cycle_seconds=900)
    jam = _jam(site)
    for i in range(orders):
        order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(1))
        services.work_order_release(work_order=order, at=at(5))
        run = OperationRun.objects.get(work_order=order, sequence=10)
        services.operation_start(run=run, at=at(6) + dt.timedelta(minutes=30 * i))
        services.operation_complete(run=run, good_quantity=Decimal(1), at=at(6, 30) + dt.timedelta(minutes=30 * i))
    services.station_stop(workstation=plant.cut, reason=jam, at=at(12))
    services.station_resume(workstation=plant.cut, at=at(12, 30))
    return plant


@covers("wip-oee GET")
@pytest.mark.django_db
def test_oee_report_is_scoped_and_hand_computed(sites):
    site_a, site_b = sites
    _history(site_a, orders=2)
    _history(site_b)
    client = APIClient()
    client.force_authenticate(user_with_role("supervisor", site_a))
    window = {"from": at(0).isoformat(), "to": at(23).isoformat()}
    assert client.get(f"{API}/oee/", {"site": site_b.code, **window}).status_code == 404
    assert client.get(f"{API}/oee/", {"site": site_a.code, "station": "PLANT-B-CUT", **window}).status_code == 404
    response = client.get(f"{API}/oee/", {"site": site_a.code, "station": "PLANT-A-CUT", **window})
    assert response.status_code == 200, response.content
    body = response.json()
    (row,) = body["results"]
    # Planned 480 min; run 60 min; ideal 2 × 15 = 30 min; all good.
    assert row["planned_minutes"] == 480
    assert row["run_minutes"] == 60
    assert row["availability"] == pytest.approx(60 / 480)
    assert row["performance"] == pytest.approx(0.5)
    assert row["quality"] == 1.0
    assert row["oee"] == pytest.approx(30 / 480)
    assert row["losses_minutes"]["equipment_failure"] == 30
    assert row["losses_minutes"]["idling_minor_stops"] == 390
    assert body["pareto"][0]["reason"] == "Mechanical > Jam"
    by_day = client.get(f"{API}/oee/", {"site": site_a.code, "by": "day", **window}).json()
    assert {r["period"] for r in by_day["results"]} == {"2026-11-23"}
    assert client.get(f"{API}/oee/", {"site": site_a.code, "by": "month"}).status_code == 400


@pytest.mark.django_db
def test_lists_cost_the_same_for_one_row_and_many(sites, django_assert_num_queries):
    site_a, _ = sites
    client = APIClient()
    client.force_authenticate(user_with_role("supervisor", site_a))
    _history(site_a, orders=1)
    counts = {}
    for url in (f"{API}/station-states/", f"{API}/oee/?site={site_a.code}&from=2026-11-23T00:00Z&to=2026-11-24T00:00Z"):
        client.get(url)  # warm the caches
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts[url] = len(ctx.captured_queries)
    # More orders, stops and states: the same number of queries.
    plant = make_plant(site_a, prefix="MORE")
    for i in range(5):
        services.station_device_signal(workstation=plant.cut, state="stopped", at=at(7, i * 2))
        services.station_device_signal(workstation=plant.cut, state="running", at=at(7, i * 2 + 1))
    for url, n in counts.items():
        with django_assert_num_queries(n):
            assert client.get(url).status_code == 200
    assert StationState.objects.count() > 10


@pytest.mark.django_db
def test_operator_stops_with_a_reason_and_resumes(sites):
    site_a, _ = sites
    station = _station(site_a)
    client = APIClient()
    client.force_authenticate(user_with_role("operator", site_a))
    bad = client.post(f"{API}/workstations/{station.code}/stop/", {"reason": "nope"}, format="json")
    assert bad.status_code == 400 and "reason" in bad.content.decode()
    assert not StationState.objects.exists()
    stop = client.post(f"{API}/workstations/{station.code}/stop/", {"reason": "jam"}, format="json")
    assert stop.status_code == 201, stop.content
    assert stop.json()["state"] == "unplanned_stop" and stop.json()["reason_label"] == "Mechanical > Jam"
    assert client.post(f"{API}/workstations/{station.code}/resume/").status_code == 204
    again = client.post(f"{API}/workstations/{station.code}/resume/")
    assert again.status_code == 409
    viewer = APIClient()
    viewer.force_authenticate(user_with_role("viewer", site_a))
    assert viewer.post(f"{API}/workstations/{station.code}/stop/", {"reason": "jam"}, format="json").status_code == 403
