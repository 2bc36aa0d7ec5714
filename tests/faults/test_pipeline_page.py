"""The admins' pipeline page: uploads per minute, lag, rejected uploads with their
reasons and silent devices; staff only; constant query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from devices.models import UploadStatus
from tests.factories.devices import DeviceFactory, ReaderUploadFactory
from tests.factories.tracker import UserFactory

pytestmark = pytest.mark.django_db
URL = "/devices/pipeline/"


def _seed(site, n: int):
    now = timezone.now()
    device = DeviceFactory(
        site=site,
        device_id=f"PP-{n}",
        silent_since=now - dt.timedelta(minutes=30),
        last_seen_at=now - dt.timedelta(hours=1),
    )
    for i in range(n):
        ReaderUploadFactory(
            device=device,
            received_at=now - dt.timedelta(seconds=30 + i),
            status=UploadStatus.PROCESSED,
            processed_at=now - dt.timedelta(seconds=28 + i),
        )
        ReaderUploadFactory(
            device=device,
            received_at=now - dt.timedelta(seconds=40 + i),
            status=UploadStatus.REJECTED,
            reason=f"not JSON at line {i % 2 + 1}",
        )
    ReaderUploadFactory(device=device, received_at=now - dt.timedelta(seconds=200))


def test_admin_sees_the_figures(client, site_a):
    _seed(site_a, 3)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    for text in ("uploads / minute", "not JSON at line 1", "PP-3", "Silent devices", "2.0 s"):
        assert text in body, text
    assert page.context["queued"] == 1 and page.context["uploads_per_minute"] == round(7 / 15, 1)


def test_not_for_plant_users(client, site_a, make_user):
    client.force_login(make_user("plant manager", site_a))
    assert client.get(URL).status_code in (302, 403)
    client.force_login(UserFactory(is_staff=True))  # staff without the permission
    assert client.get(URL).status_code == 403


def test_query_count_does_not_grow(client, site_a, django_assert_max_num_queries):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    _seed(site_a, 1)
    with django_assert_max_num_queries(12) as few:
        client.get(URL)
    _seed(site_a, 20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(URL)
