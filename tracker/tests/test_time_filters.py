"""Time filters take any ISO 8601 offset Python reads: PostgreSQL refuses offsets past ±15:59
(a 500 schemathesis found on ``until=…+18:36``), so the value reaches it in UTC; an instant
that leaves the years 1–9999 in UTC is a 400 like any unreadable time."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories.tracker import user_with_role

pytestmark = pytest.mark.django_db

URLS = [
    "/api/v1/inventory/moves/?occurred_after={}",
    "/api/v1/wip/station-states/?until={}",
    "/api/v1/wip/station-states/?since={}",
    "/api/v1/wip/work-orders/?due_before={}",
]


@pytest.fixture
def api(site_a):
    client = APIClient()
    client.force_authenticate(user_with_role("plant manager", site_a))
    return client


@pytest.mark.parametrize("url", URLS)
def test_a_far_offset_is_read_in_utc(api, url):
    assert api.get(url.format("1219-10-23T08:39:14.417%2B18:36")).status_code == 200
    assert api.get(url.format("2026-12-02T08:00:00-23:59")).status_code == 200


@pytest.mark.parametrize("url", URLS)
def test_an_instant_before_year_one_is_a_400(api, url):
    response = api.get(url.format("0001-01-01T00:00:00%2B05:00"))
    assert response.status_code == 400, response.content
