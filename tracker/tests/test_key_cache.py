"""A partner key's access is cached between requests, and every change to it applies on the next one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.api import key_cache

pytestmark = pytest.mark.django_db


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _sites(client: APIClient) -> list[str]:
    response = client.get("/api/v1/sites/")
    assert response.status_code == 200, response.content
    return sorted(s["code"] for s in response.json()["results"])


@pytest.fixture
def keyed():
    a, b = SiteFactory(code="kc-a"), SiteFactory(code="kc-b")
    user = user_with_role("partner", a, b)
    key, secret = services.api_key_create(user=user, name="cached")
    client = _client(secret)
    assert _sites(client) == ["kc-a", "kc-b"]  # the entry is cached from here on
    return key, user, client, a, b


def test_a_cached_key_costs_no_query(keyed, django_assert_num_queries):
    *_, client, _, _ = keyed
    with django_assert_num_queries(2):  # count and page only
        assert _sites(client) == ["kc-a", "kc-b"]


def test_revoking_applies_on_the_next_request(keyed):
    key, _, client, _, _ = keyed
    services.api_key_revoke(key=key)
    assert client.get("/api/v1/sites/").status_code == 401


def test_a_deactivated_user_is_refused_on_the_next_request(keyed):
    _, user, client, _, _ = keyed
    user.is_active = False
    user.save()
    assert client.get("/api/v1/sites/").status_code == 401


def test_a_revoked_site_grant_and_a_lost_role_apply_on_the_next_request(keyed):
    _, user, client, a, _ = keyed
    services.site_revoke_access(site=a, user=user)
    assert _sites(client) == ["kc-b"]
    user.groups.remove(Group.objects.get(name="partner"))
    assert client.get("/api/v1/sites/").json()["count"] == 0


def test_limiting_the_key_to_a_site_applies_on_the_next_request(keyed):
    key, _, client, a, _ = keyed
    key.sites.set([a])
    assert _sites(client) == ["kc-a"]


def test_a_lost_epoch_rebuilds_the_entries(keyed):
    key, user, client, a, _ = keyed
    cache.delete(key_cache.EPOCH_KEY)
    services.site_revoke_access(site=a, user=user)
    assert _sites(client) == ["kc-b"]


def test_without_the_cache_keys_are_read_from_the_database(keyed, monkeypatch):
    key, _, client, _, _ = keyed

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    assert _sites(client) == ["kc-a", "kc-b"]
    services.api_key_revoke(key=key)
    assert client.get("/api/v1/sites/").status_code == 401
