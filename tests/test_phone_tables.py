"""On a phone a table's rows stack and each value sits under its column's name: the pages a
plant person opens on the floor label every cell (the plant dashboard's station figures, the
devices and a device's uploads, the upload pipeline, the OEE page, the stock in transit, the
asset finder's trail; an excursion's held stock is checked in devices/tests/test_excursions.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from demo.simulator.seed import seed
from tests.factories.tracker import user_with_role
from tests.phone_tables import unlabelled_cells
from wip import services as wip
from wip.models import ReasonCode, Workstation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_tables_a_plant_person_opens_on_a_phone_label_every_cell(tmp_path):
    site = seed(keys_file=tmp_path / "keys.json").site
    station = Workstation.objects.filter(site=site).order_by("code").first()
    reason = ReasonCode.objects.filter(site=site, parent__isnull=False).first()
    wip.station_stop(workstation=station, reason=reason, at=timezone.now() - timezone.timedelta(minutes=5))
    client = Client()
    client.force_login(user_with_role("plant manager", site))
    for path in ("/devices/live/plant/", "/devices/", "/wip/oee/", "/inventory/in-transit/", "/alerts/"):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.content.decode()
        assert "<td" in body or path == "/inventory/in-transit/", path
        assert unlabelled_cells(body) == [], path


def test_the_device_and_pipeline_pages_label_every_cell(tmp_path):
    from django.contrib.auth import get_user_model

    from devices.models import Device
    from tests.factories.devices import ReaderUploadFactory

    site = seed(keys_file=tmp_path / "keys.json").site
    device = Device.objects.filter(site=site, read_points__isnull=False).order_by("device_id").first()
    ReaderUploadFactory(device=device, status="rejected", reason="bad JSON")
    ReaderUploadFactory(device=device)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root-phone", "root@example.com", "x"))
    for path in (f"/devices/{device.device_id}/", "/devices/pipeline/"):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.content.decode()
        assert "<td" in body and "bad JSON" in body, path
        assert unlabelled_cells(body) == [], path


def test_the_helper_finds_a_bare_cell():
    html = '<table class="table"><tbody><tr><td>A</td><td data-label="Qty">1</td><td>2 %</td></tr></tbody></table>'
    assert unlabelled_cells(html) == ["2 %"]
