"""OEE pages: the station page's state panel (stop with a reason, resume, the
reason a device stop needs), the site's OEE page with its drill-down, the plant
dashboard's OEE column; their query counts do not grow with the stops."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories.tracker import user_with_role
from tests.factories.wip import make_plant
from wip import services
from wip.models import ReasonCode, StationState

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(site_a):
    site_a.time_zone = "Europe/Berlin"
    site_a.save()
    plant = make_plant(site_a)
    mechanical = ReasonCode.objects.create(site=site_a, code="mechanical", name="Mechanical")
    ReasonCode.objects.create(site=site_a, code="jam", name="Jam", parent=mechanical)
    return plant


def client_for(role: str, site) -> Client:
    client = Client()
    client.force_login(user_with_role(role, site))
    return client


def test_operator_stops_with_a_reason_resumes_and_answers_a_device_stop(plant):
    operator = client_for("operator", plant.site)
    page = operator.get(f"/wip/stations/{plant.cut.code}/").content.decode()
    assert "Idle: starved" in page and "Mechanical &gt; Jam" in page and "OEE today" in page
    jam = ReasonCode.objects.get(code="jam")
    stopped = operator.post(f"/wip/stations/{plant.cut.code}/stop/", {"reason": jam.pk}, follow=True)
    body = stopped.content.decode()
    assert "Unplanned stop" in body and "Resume" in body
    assert StationState.objects.get(ended_at__isnull=True).set_by.username == stopped.context["user"].username
    operator.post(f"/wip/stations/{plant.cut.code}/resume/")
    assert not StationState.objects.filter(ended_at__isnull=True).exists()

    row, _ = services.station_device_signal(workstation=plant.cut, state="stopped", at=timezone.now())
    page = operator.get(f"/wip/stations/{plant.cut.code}/").content.decode()
    assert "reason needed" in page and "why?" in page
    operator.post(f"/wip/station-states/{row.pk}/reason/", {"reason": jam.pk, "next": "/wip/"})
    row.refresh_from_db()
    assert row.reason == jam
    assert "why?" not in operator.get(f"/wip/stations/{plant.cut.code}/").content.decode()


def test_viewer_sees_the_state_but_cannot_stop(plant):
    viewer = client_for("viewer", plant.site)
    page = viewer.get(f"/wip/stations/{plant.cut.code}/").content.decode()
    assert "OEE today" in page and "Stop reason" not in page
    assert viewer.post(f"/wip/stations/{plant.cut.code}/stop/", {"reason": 1}).status_code == 403


def _stops(plant, n: int, start: dt.datetime) -> None:
    jam = ReasonCode.objects.get(code="jam")
    for i in range(n):
        at = start + dt.timedelta(minutes=10 * i)
        services.station_stop(workstation=plant.cut, reason=jam, at=at)
        services.station_resume(workstation=plant.cut, at=at + dt.timedelta(minutes=5))
        services.station_device_signal(workstation=plant.assemble, state="stopped", at=at)
        services.station_device_signal(workstation=plant.assemble, state="running", at=at + dt.timedelta(minutes=3))


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_oee_page_drills_down_and_costs_the_same_for_more_stops(plant):
    manager = client_for("plant manager", plant.site)
    now = timezone.now()
    _stops(plant, 1, now - dt.timedelta(hours=2))
    day = timezone.localtime(now, timezone=dt.UTC).date()
    url = "/wip/oee/"
    manager.get(url)
    few = _queries(manager, url)
    station_few = _queries(manager, f"/wip/stations/{plant.cut.code}/")
    plant_few = _queries(manager, "/devices/live/plant/")
    _stops(plant, 6, now - dt.timedelta(hours=1, minutes=50))
    assert _queries(manager, url) == few
    assert _queries(manager, f"/wip/stations/{plant.cut.code}/") == station_few
    assert _queries(manager, "/devices/live/plant/") == plant_few
    page = manager.get(url).content.decode()
    assert "Stations × shifts" in page and plant.cut.code in page and "Pareto" in page
    assert day.strftime("%d") in page
    plant_page = manager.get("/devices/live/plant/").content.decode()
    assert "OEE" in plant_page


def test_oee_page_in_the_navigation_of_manager_and_supervisor(plant):
    for role in ("plant manager", "supervisor"):
        assert 'href="/wip/oee/"' in client_for(role, plant.site).get("/wip/").content.decode()


def test_station_state_says_where_the_state_and_the_stop_come_from(plant):
    """The heading's source and the stop's author read as words, not a bare "(operator)"
    that looks like the person next to the stop's "(operator, supervisor)"."""
    supervisor = client_for("supervisor", plant.site)
    jam = ReasonCode.objects.get(code="jam")
    body = supervisor.post(f"/wip/stations/{plant.cut.code}/stop/", {"reason": jam.pk}, follow=True).content.decode()
    name = StationState.objects.get(ended_at__isnull=True).set_by.username
    assert "· set at the station" in body and f"· entered by {name}" in body
    assert "(operator" not in body
    # Stopped with a reason, the stop button replaces the reason: it says so.
    assert ">Change reason</button>" in body and ">Stop</button>" not in body
    supervisor.post(f"/wip/stations/{plant.cut.code}/resume/")

    services.station_device_signal(workstation=plant.cut, state="stopped", at=timezone.now(), device_ref="PLC-7")
    body = supervisor.get(f"/wip/stations/{plant.cut.code}/").content.decode()
    assert "· signalled by the machine" in body and "· signalled by PLC-7" in body
    assert "(device" not in body and ">Stop</button>" in body
