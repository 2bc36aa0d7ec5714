"""Scoping matrix and query counts of the device API's lists and details."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.models import UnknownTag
from tests.factories.devices import (
    DeviceFactory,
    ReaderUploadFactory,
    ReadPointFactory,
    TagAssignmentFactory,
    TagFactory,
)
from tests.factories.tracker import user_with_role
from tests.scoping import ScopedEndpointMatrix
from tracker.roles import ROLE_NAMES

# Operators see tag assignments only; partners nothing of the devices app.
DEVICE_VIEWERS = tuple(r for r in ROLE_NAMES if r not in ("operator", "partner"))


class TestUploadsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/devices/uploads/"
    key_field = "id"
    viewer_roles = DEVICE_VIEWERS

    def make_object(self, site):
        return ReaderUploadFactory(device=DeviceFactory(site=site))


class TestDevicesScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/devices/devices/"
    key_field = "device_id"
    viewer_roles = DEVICE_VIEWERS

    def make_object(self, site):
        device = DeviceFactory(site=site, device_id=f"{site.code}-FX")
        ReadPointFactory(device=device, port=1)
        return device


class TestTagsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/devices/tags/"
    key_field = "tag_id"
    viewer_roles = DEVICE_VIEWERS

    def make_object(self, site):
        return TagAssignmentFactory(tag=TagFactory(site=site)).tag


class TestUnknownTagsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/devices/unknown-tags/"
    key_field = "tag_id"
    viewer_roles = DEVICE_VIEWERS

    def make_object(self, site):
        from django.utils import timezone

        tag = TagFactory(site=site)
        UnknownTag.objects.create(tag=tag, site=site, first_seen_at=timezone.now(), last_seen_at=timezone.now())
        return tag


def _client(site):
    client = APIClient()
    client.force_authenticate(user_with_role("plant manager", site))
    return client


def _count_queries(django_assert_num_queries, client, url, expected):
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,make",
    [
        ("/api/v1/devices/uploads/", lambda site: ReaderUploadFactory(device=DeviceFactory(site=site))),
        ("/api/v1/devices/devices/", lambda site: ReadPointFactory(device=DeviceFactory(site=site))),
        ("/api/v1/devices/tags/", lambda site: TagAssignmentFactory(tag=TagFactory(site=site))),
    ],
)
def test_list_query_count_does_not_grow_with_rows(site_a, url, make, django_assert_num_queries):
    client = _client(site_a)
    make(site_a)
    client.get(url)  # warm the user's permission cache, as any later request finds it
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(12):
        make(site_a)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert response.json()["count"] == 13


@pytest.mark.django_db
def test_detail_query_count(site_a, django_assert_max_num_queries):
    client = _client(site_a)
    device = DeviceFactory(site=site_a)
    ReadPointFactory(device=device)
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/v1/devices/devices/{device.device_id}/").status_code == 200
