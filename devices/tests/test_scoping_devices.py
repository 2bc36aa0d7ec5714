"""Devices' own endpoints keep to the device (and so to its site); EPCIS capture jobs
to the user who sent them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.epcis.models import EpcisCapture
from tests.factories.devices import ReaderUploadFactory, device_with_key
from tests.factories.tracker import user_with_role
from tests.scoping import covers, nothing_written

pytestmark = pytest.mark.django_db


@covers("device-token-upload GET", "device-token-upload-detail GET")
def test_a_device_sees_its_own_uploads_only_not_another_sites(site_a, site_b):
    device, secret = device_with_key(site=site_a)
    other, _ = device_with_key(site=site_b)
    mine, theirs = ReaderUploadFactory(device=device), ReaderUploadFactory(device=other)
    client = APIClient()
    base = f"/api/v1/devices/u/{secret}/uploads/"
    with nothing_written():
        assert [row["id"] for row in client.get(base).json()["results"]] == [mine.pk]
        assert client.get(f"{base}{theirs.pk}/").status_code == 404
    assert client.get(f"{base}{mine.pk}/").status_code == 200


@covers("epcis-capture-detail GET")
def test_a_capture_job_is_its_senders_only(site_a, site_b):
    sender = user_with_role("warehouse clerk", site_b)
    capture = EpcisCapture.objects.create(site=site_b, created_by=sender, counts={"events": 1})
    client = APIClient()
    client.force_authenticate(user_with_role("plant manager", site_a))
    assert client.get(f"/api/v1/epcis/capture/{capture.pk}").status_code == 404
    client.force_authenticate(sender)
    assert client.get(f"/api/v1/epcis/capture/{capture.pk}").json()["captureID"] == str(capture.pk)
