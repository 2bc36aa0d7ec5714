"""ETag / If-None-Match on API lists and details (tracker.api.conditional): a partner's poll of
an unchanged list is a 304 without its queries; any change, another scope or other parameters
give another ETag."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tracker import services

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/inventory/levels/"


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def plant(site_a, site_b):
    cache.clear()
    bin_a = LocationFactory(site=site_a, kind="bin", code="CG-A1")
    bin_b = LocationFactory(site=site_b, kind="bin", code="CG-B1")
    bolt = ItemFactory(sku="CG-BOLT")
    receive(bolt, bin_a, 5)
    receive(bolt, bin_b, 7)
    _, secret_a = services.api_key_create(user=user_with_role("partner", site_a), name="a", scopes=["read_inventory"])
    _, secret_b = services.api_key_create(user=user_with_role("partner", site_b), name="b", scopes=["read_inventory"])
    return {"a": _client(secret_a), "b": _client(secret_b), "bolt": bolt, "bin_a": bin_a, "bin_b": bin_b}


def _poll(client: APIClient, etag: str, path: str = LEVELS):
    return client.get(path, HTTP_IF_NONE_MATCH=etag)


def test_an_unchanged_list_is_a_304_without_a_body_or_queries(plant, django_assert_num_queries, settings):
    # The use count is flushed once per touch interval (5 s); a busy machine can take that
    # long between the first request and the poll, and the flush is not what this checks.
    settings.SHOPFLOOR = {**settings.SHOPFLOOR, "API_KEY_TOUCH_SECONDS": 600}
    first = plant["a"].get(LEVELS)
    assert first.status_code == 200 and first["ETag"]
    plant["a"].get(LEVELS)  # the key's use is flushed to its row once per interval: not in the count below
    with django_assert_num_queries(0):
        again = _poll(plant["a"], first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert _poll(plant["a"], f"W/{first['ETag']}").status_code == 304  # weak comparison
    assert _poll(plant["a"], '"something-else"').status_code == 200


def test_a_change_at_the_site_changes_the_etag(plant, django_capture_on_commit_callbacks):
    first = plant["a"].get(LEVELS)
    with django_capture_on_commit_callbacks(execute=True):  # versions move after commit
        receive(plant["bolt"], plant["bin_a"], 1)
    changed = _poll(plant["a"], first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert _poll(plant["a"], changed["ETag"]).status_code == 304


def test_a_change_to_a_row_without_a_site_changes_the_etag(plant, django_capture_on_commit_callbacks):
    first = plant["a"].get(LEVELS)
    with django_capture_on_commit_callbacks(execute=True):
        plant["bolt"].name = "Renamed"
        plant["bolt"].save()
    assert _poll(plant["a"], first["ETag"]).status_code == 200


def test_a_change_at_another_site_keeps_the_etag(plant, django_capture_on_commit_callbacks):
    first = plant["a"].get(LEVELS)
    with django_capture_on_commit_callbacks(execute=True):
        receive(plant["bolt"], plant["bin_b"], 1)
    assert _poll(plant["a"], first["ETag"]).status_code == 304


def test_another_scope_gets_another_etag(plant):
    a = plant["a"].get(LEVELS)
    b = plant["b"].get(LEVELS)
    assert a["ETag"] != b["ETag"]
    # Site A's ETag never lets B's key skip its own answer.
    assert _poll(plant["b"], a["ETag"]).status_code == 200


def test_query_parameters_are_part_of_the_etag(plant):
    full = plant["a"].get(LEVELS)
    filtered = plant["a"].get(LEVELS + "?item=CG-BOLT")
    assert full["ETag"] != filtered["ETag"]
    assert _poll(plant["a"], full["ETag"], LEVELS + "?item=CG-BOLT").status_code == 200


def test_details_too_and_no_etag_on_a_404(plant, site_b):
    detail = f"/api/v1/inventory/items/{plant['bolt'].sku}/"
    first = plant["a"].get(detail)
    assert first.status_code == 200, first.content
    assert _poll(plant["a"], first["ETag"], detail).status_code == 304
    other = f"/api/v1/locations/{plant['bin_b'].code}/"
    missing = plant["a"].get(other)
    assert missing.status_code == 404
    assert "ETag" not in missing
