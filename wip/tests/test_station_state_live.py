"""The station page's state panel follows the station live: a ``station.state`` event (stop,
resume, reason, device signal) reaches the page's site and station groups after commit, the page
re-fetches the panel alone, and the panel it gets shows the new state and the matching buttons."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests.factories.tracker import SiteFactory, user_with_role
from tests.factories.wip import make_plant
from tests.scoping import covers
from tracker.routing import websocket_urlpatterns
from wip import services
from wip.models import ReasonCode

pytestmark = pytest.mark.django_db(transaction=True)  # events go out after real commits


@pytest.fixture
def plant(site_a):
    cache.clear()
    plant = make_plant(site_a)
    mechanical = ReasonCode.objects.create(site=site_a, code="mechanical", name="Mechanical")
    ReasonCode.objects.create(site=site_a, code="jam", name="Jam", parent=mechanical)
    return plant


def _client(role: str, site) -> Client:
    client = Client()
    client.force_login(user_with_role(role, site))
    return client


def test_the_panel_asks_for_its_stations_events_and_fetches_itself(plant):
    code = plant.cut.code
    page = _client("operator", plant.site).get(f"/wip/stations/{code}/").content.decode()
    assert f'hx-get="/wip/stations/{code}/state/"' in page
    assert 'data-live="station.state operation.started operation.paused operation.completed"' in page
    assert f'data-live-station="{code}"' in page and "data-live-hold-focus" in page


def test_the_state_partial_follows_a_stop_and_a_resume(plant):
    code = plant.cut.code
    operator = _client("operator", plant.site)
    url = f"/wip/stations/{code}/state/"
    panel = operator.get(url).content.decode()
    assert panel.startswith('<section class="card station-state"') and "<html" not in panel
    assert 'data-state="idle_starved"' in panel and "Resume" not in panel and ">Stop</button>" in panel

    services.station_stop(workstation=plant.cut, reason=ReasonCode.objects.get(code="jam"))
    panel = operator.get(url).content.decode()
    assert 'data-state="unplanned_stop"' in panel and "Mechanical &gt; Jam" in panel
    assert "Resume</button>" in panel
    # The forms in a fetched panel go back to the station page, not to the partial.
    assert f'name="next" value="/wip/stations/{code}/"' in panel

    services.station_resume(workstation=plant.cut)
    panel = operator.get(url).content.decode()
    assert 'data-state="idle_starved"' in panel and "Resume</button>" not in panel

    # A device stop asks for its reason in the fetched panel too.
    services.station_device_signal(workstation=plant.cut, state="fault", at=timezone.now())
    panel = operator.get(url).content.decode()
    assert "reason needed" in panel and "why?" in panel


@covers("wip:station_state GET")
def test_the_state_partial_stays_in_the_users_site_and_role(plant):
    other = make_plant(SiteFactory(code="live-b"), prefix="Q")
    operator = _client("operator", plant.site)
    assert operator.get(f"/wip/stations/{other.cut.code}/state/").status_code == 404
    viewer = _client("viewer", plant.site)
    panel = viewer.get(f"/wip/stations/{plant.cut.code}/state/").content.decode()
    assert "OEE today" in panel and ">Stop</button>" not in panel


async def _receive(communicator: WebsocketCommunicator, type_: str) -> dict:
    while True:
        event = await communicator.receive_json_from(timeout=2)
        if event["type"] == type_:
            return event


async def test_a_committed_stop_reaches_the_pages_groups_and_the_refetched_panel_shows_it(plant):
    code = plant.cut.code
    operator = await sync_to_async(user_with_role)("operator", plant.site)
    communicators = []
    for path in (f"/ws/sites/{plant.site.code}/", f"/ws/stations/{code}/"):
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = operator
        connected, _ = await communicator.connect()
        assert connected, path
        assert (await communicator.receive_json_from())["type"] == "hello"
        communicators.append(communicator)

    client = Client()
    await sync_to_async(client.force_login)(operator)
    url = f"/wip/stations/{code}/state/"
    before = (await sync_to_async(client.get)(url)).content.decode()  # the panel, now cached
    assert 'data-state="idle_starved"' in before

    jam = await sync_to_async(ReasonCode.objects.get)(code="jam")
    await sync_to_async(services.station_stop)(workstation=plant.cut, reason=jam)
    for communicator in communicators:
        event = await _receive(communicator, "station.state")
        assert event["workstation"] == code and event["state"] == "unplanned_stop" and event["reason"] == "jam"
    # What the page fetches on that event: the new state, never the panel cached before the stop.
    after = (await sync_to_async(client.get)(url)).content.decode()
    assert 'data-state="unplanned_stop"' in after and "Resume</button>" in after

    await sync_to_async(services.station_resume)(workstation=plant.cut)
    event = await _receive(communicators[0], "station.state")
    assert event["workstation"] == code and event["state"] is None
    after = (await sync_to_async(client.get)(url)).content.decode()
    assert 'data-state="idle_starved"' in after and "Resume</button>" not in after
    for communicator in communicators:
        await communicator.disconnect()
