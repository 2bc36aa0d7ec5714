"""The live pages (asset finder, plant dashboard): what they show, to whom, at what cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from demo.simulator import layout
from demo.simulator.seed import seed
from devices import services as device_services
from inventory.models import Item
from tests.factories.tracker import SiteFactory, user_with_role
from tracker.models import Location
from wip import services as wip
from wip.models import Routing, WorkOrder

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plant(tmp_path):
    return seed(keys_file=tmp_path / "keys.json").site


def _order(site, number: str, sku: str = "DP-SHELF") -> WorkOrder:
    wo = wip.work_order_create(
        site=site,
        number=number,
        item=Item.objects.get(sku=sku),
        quantity=Decimal(3),
        routing=Routing.objects.get(code=f"RT-{sku}"),
        issue_location=Location.objects.get(code="DP-STORES"),
    )
    return wip.work_order_release(work_order=wo)


def test_finder_answers_where_a_work_order_its_tote_and_a_lot_are(client, plant):
    wo = _order(plant, "WO-FIND-1")
    device_services.tag_assign(site=plant, tag_id=layout.tote_epc(2), target_kind="work_order", work_order=wo)
    client.force_login(user_with_role("supervisor", plant))
    page = client.get("/devices/live/find/", {"q": "WO-FIND-1"}).content.decode()
    assert 'data-kind="work_order"' in page and layout.tote_epc(2) in page
    page = client.get("/devices/live/find/", {"q": layout.tote_epc(2)}).content.decode()
    assert "carrying work order WO-FIND-1" in page
    page = client.get("/devices/live/find/", {"q": "TUBE-2611A"}).content.decode()
    assert 'data-kind="lot"' in page and "DP-STORES" in page
    page = client.get("/devices/live/find/", {"q": "TOTE-05"}).content.decode()
    assert 'data-kind="container"' in page
    # htmx refreshes only the results partial
    partial = client.get("/devices/live/find/", {"q": "TOTE-05"}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="finder-results"') and 'data-live="' in partial


def test_another_sites_user_finds_nothing_of_the_plant(client, plant):
    _order(plant, "WO-FIND-2")
    other = SiteFactory(code="elsewhere", name="Elsewhere")
    client.force_login(user_with_role("plant manager", other))
    for q in ("WO-FIND-2", "TOTE-01", "TUBE-2611A", layout.tote_epc(1)):
        page = client.get("/devices/live/find/", {"q": q}).content.decode()
        assert "Nothing at Elsewhere" in page, q
    page = client.get("/devices/live/plant/").content.decode()
    # (Items are global: Elsewhere lists them under its own reorder points, with its own zero stock.)
    assert 'data-station="DP-PAINT"' not in page and "Demo Plant" not in page and "WO-FIND-2" not in page


def test_dashboard_shows_stations_and_where_work_piles_up(client, plant):
    for n in range(3):
        _order(plant, f"WO-DASH-{n}")
    client.force_login(user_with_role("plant manager", plant))
    response = client.get("/devices/live/plant/")
    page = response.content.decode()
    assert response.status_code == 200
    for station in layout.STATIONS:
        assert f'data-station="{station.code}"' in page
    assert 'data-live="' in page and "<svg" in page


def test_dashboard_query_count_does_not_grow_with_the_plant(client, plant, django_assert_max_num_queries):
    client.force_login(user_with_role("plant manager", plant))
    _order(plant, "WO-Q-0")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/devices/live/plant/", HTTP_HX_REQUEST="true")
    for n in range(1, 8):
        _order(plant, f"WO-Q-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/devices/live/plant/", HTTP_HX_REQUEST="true")


def test_dashboard_measures_the_same_window_as_the_wip_metrics(client, plant):
    """The current shift so far, clipped to the site's life, as /api/v1/wip/metrics/ and the bottlenecks
    page; the page says which window it is."""
    import datetime as dt

    from django.utils import timezone

    from devices.live.selectors import dashboard
    from wip import selectors as wip_selectors

    _order(plant, "WO-WIN-1")
    manager = user_with_role("plant manager", plant)
    now = timezone.now()
    data = dashboard(user=manager, site=plant, now=now)
    metrics = wip_selectors.shift_metrics(site=plant, now=now)
    shift_start, _ = wip_selectors.current_shift(site=plant, now=now)
    assert (data.window_start, data.window_end) == (metrics.start, metrics.end)
    assert data.window_start == max(shift_start, wip_selectors.site_since(site=plant))
    assert data.window_end == now and data.window_hours < 8.01

    client.force_login(manager)
    api = client.get("/api/v1/wip/metrics/", {"site": plant.code}).json()
    assert abs(dt.datetime.fromisoformat(api["from"].replace("Z", "+00:00")) - data.window_start) < dt.timedelta(
        seconds=1
    )
    page = client.get("/devices/live/plant/").content.decode()
    assert 'id="plant-window"' in page and "current shift so far" in page and "completed this shift" in page
    assert "last 8 h" not in page
