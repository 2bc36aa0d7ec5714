"""seed_demo: a believable plant, built through the services, idempotent, with working device keys."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from demo.management.commands import seed_demo
from demo.simulator import layout
from demo.simulator.seed import load_keys, seed
from devices.models import Device, DeviceKey, ReadPoint, TagAssignment, ThresholdRule
from inventory.models import Item, StockLevel, StockMove
from tracker.models import Location, Site
from tracker.roles import ROLE_NAMES
from tracker.scoping import user_can_access_site
from wip.models import BillOfMaterials, Operation, Routing, Workstation

pytestmark = pytest.mark.django_db

COUNTED = (
    Site,
    Location,
    Workstation,
    Routing,
    Operation,
    BillOfMaterials,
    Item,
    StockMove,
    Device,
    ReadPoint,
    DeviceKey,
    TagAssignment,
    ThresholdRule,
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The seed creates a user per role: hashing their passwords at full cost is most of its time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _counts():
    return {model.__name__: model.objects.count() for model in COUNTED} | {"users": get_user_model().objects.count()}


def test_the_plant_has_what_the_demo_needs(tmp_path):
    report = seed(keys_file=tmp_path / "keys.json")
    site = report.site
    assert site.code == "demo-plant"
    stations = Workstation.objects.filter(site=site)
    assert sorted(stations.values_list("code", flat=True)) == sorted(s.code for s in layout.STATIONS)
    assert all(ws.location.kind == "workstation" for ws in stations)
    # Every station's zone is covered by an antenna of a reader.
    covered = set(ReadPoint.objects.filter(device__site=site).values_list("location__code", flat=True))
    assert {s.code for s in layout.STATIONS} | {"DP-COLD", "DP-STORES"} <= covered
    assert Device.objects.get(device_id=layout.SENSORS[0].device_id).location.code == "DP-COLD"
    assert ThresholdRule.objects.filter(
        site=site, metric="temperature", location__code="DP-COLD", hold_contents=True
    ).exists()
    assert Routing.objects.filter(site=site).count() == len(layout.PRODUCTS) >= 2
    assert BillOfMaterials.objects.filter(site=site).count() == len(layout.PRODUCTS)
    # Stock arrived through the ledger (receipts), with lots where the item is lot-tracked.
    assert StockMove.objects.filter(kind="receipt").count() >= len(layout.COMPONENTS)
    assert StockLevel.objects.filter(site=site, lot__isnull=False, on_hand__gt=0).exists()
    # Every item has a standard cost, so stock value and ABC are not all "no cost set".
    costs = dict(Item.objects.filter(sku__in=layout.STANDARD_COSTS).values_list("sku", "standard_cost"))
    assert costs.keys() == {c.sku for c in layout.COMPONENTS} | {p.sku for p in layout.PRODUCTS}
    assert all(cost > 0 for cost in costs.values())
    kinds = set(TagAssignment.objects.current().filter(tag__site=site).values_list("target_kind", flat=True))
    assert kinds == {"container", "lot"}  # totes and pallets
    users = get_user_model().objects
    for role in ROLE_NAMES:
        user = users.get(username=layout.ROLE_USERS[role])
        assert user.check_password(layout.DEMO_PASSWORD)
        assert user.groups.filter(name=role).exists()
        assert user_can_access_site(user, site)


def test_seed_is_idempotent(tmp_path):
    keys_file = tmp_path / "keys.json"
    seed(keys_file=keys_file)
    before, keys = _counts(), load_keys(keys_file)
    report = seed(keys_file=keys_file)
    assert report.created == []
    assert _counts() == before
    assert load_keys(keys_file) == keys


def test_stored_keys_authenticate_their_devices(tmp_path):
    keys_file = tmp_path / "keys.json"
    seed(keys_file=keys_file)
    keys = load_keys(keys_file)
    assert set(keys) == {r.device_id for r in layout.READERS}
    client = APIClient()
    for device_id, secret in keys.items():
        response = client.get("/api/v1/devices/uploads/", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 200, device_id
    # A key that no longer works (revoked) is replaced by the next seed, and stored.
    DeviceKey.objects.filter(device__device_id="DP-ZR-DOCK").update(revoked_at="2026-01-01T00:00:00Z")
    report = seed(keys_file=keys_file)
    assert report.created == ["key for DP-ZR-DOCK"]
    assert load_keys(keys_file)["DP-ZR-DOCK"] != keys["DP-ZR-DOCK"]


def test_command_prints_the_logins_and_password(tmp_path):
    out = io.StringIO()
    # The command object, not its name: the demo app is installed only with SHOPFLOOR_DEMO=1
    # (make demo), and installing it for one test would re-run every app's ready().
    call_command(seed_demo.Command(), keys_file=tmp_path / "keys.json", stdout=out)
    text = out.getvalue()
    assert layout.DEMO_PASSWORD in text
    for username in ["admin", *layout.ROLE_USERS.values()]:
        assert username in text


def test_the_demo_has_two_sites_forecasts_and_no_false_stock_outs(tmp_path):
    """The site switcher has two sites to offer; the forecasts page opens with forecasts; the
    twenty weeks of demand history never take an item to zero."""
    import datetime as dt

    from django.utils import timezone

    from inventory.analytics import stockouts
    from inventory.forecasting.models import DemandForecast
    from tracker.selectors import sites_for_user

    report = seed(keys_file=tmp_path / "keys.json")
    manager = get_user_model().objects.get(username="manager")
    assert [s.code for s in sites_for_user(user=manager)] == ["demo-plant", "demo-warehouse"]
    assert manager.profile.default_site == report.site
    operator = get_user_model().objects.get(username="operator")
    assert [s.code for s in sites_for_user(user=operator)] == ["demo-plant"]
    forecasts = DemandForecast.objects.filter(site=report.site)
    assert forecasts.count() == len(layout.COMPONENTS)
    assert not forecasts.filter(status="insufficient_history").exists(), list(forecasts.values("status", "message"))
    today = timezone.localdate()
    rows = stockouts(site=report.site, start=today - dt.timedelta(days=180), end=today).rows
    assert not [r for r in rows if r.get("stockout_days")], rows
