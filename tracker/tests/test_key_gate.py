"""With Redis, a partner request's auth cache, use count and rate window cost one round trip."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.api import key_gate
from tracker.api.partner import ApiKeyRateThrottle
from tracker.models import ApiKey

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def keyed():
    site = SiteFactory(code="kg-a")
    user = user_with_role("partner", site)
    key, secret = services.api_key_create(user=user, name="gated")
    client = _client(secret)
    assert client.get("/api/v1/ping/").status_code == 200  # the entry is cached from here on
    return key, client


class RoundTrips:
    """Counts the commands the shared Redis client sends (a pipeline counts as one)."""

    def __init__(self, monkeypatch) -> None:
        self.commands: list[str] = []
        client = key_gate.redis_client()
        assert client is not None
        original = client.execute_command

        def counting(*args, **kwargs):
            self.commands.append(str(args[0]))
            return original(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counting)


def test_a_cached_key_costs_one_round_trip(keyed, monkeypatch, django_assert_num_queries):
    _, client = keyed
    trips = RoundTrips(monkeypatch)
    cache.set(key_gate.touch_key(keyed[0].prefix), 1, timeout=60)  # no flush due in this request
    trips.commands.clear()
    with django_assert_num_queries(0):
        assert client.get("/api/v1/ping/").status_code == 200
    assert trips.commands == ["EVALSHA"]


def test_uses_are_counted_and_flushed_once_per_interval(keyed):
    key, client = keyed
    key.refresh_from_db()
    assert key.use_count == 1 and key.last_used_at is not None
    for _ in range(3):
        client.get("/api/v1/ping/")
    key.refresh_from_db()
    assert key.use_count == 1  # waiting in Redis
    cache.delete(key_gate.touch_key(key.prefix))
    client.get("/api/v1/ping/")
    key.refresh_from_db()
    assert key.use_count == 5


def test_a_key_revoked_elsewhere_is_refused_on_the_next_request(keyed):
    key, client = keyed
    # Another web node revokes it: only the shared epoch tells this one.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=key.created_at)
    key_gate.key_cache.bump_epoch()
    response = client.get("/api/v1/ping/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_wrong_secret_is_not_counted(keyed):
    key, _ = keyed
    wrong = _client(f"sfk_{key.prefix}_{'x' * 43}")
    for _ in range(3):
        assert wrong.get("/api/v1/ping/").status_code == 401
    assert cache.get(key_gate.uses_key(key.prefix)) in (0, None)


def test_the_rate_window_refuses_with_retry_after(keyed, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"}}
    key, client = keyed
    cache.delete(ApiKeyRateThrottle().window_key(key.prefix))  # the fixture's request
    assert [client.get("/api/v1/ping/").status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/v1/ping/")
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60


def test_redis_down_falls_back_to_the_database(keyed, monkeypatch):
    key, client = keyed

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(key_gate, "pass_gate", down)
    assert client.get("/api/v1/ping/").status_code == 200


def test_an_etag_reads_its_data_versions_in_the_same_round_trip(monkeypatch, django_capture_on_commit_callbacks):
    """A partner's list poll: the gate reads the ETag's data versions with the key's entry, so
    a 200 and a 304 each cost the one EVALSHA; a change at the key's site still moves the ETag."""
    from tests.factories.inventory import ItemFactory, receive
    from tests.factories.tracker import LocationFactory

    site = SiteFactory(code="kg-v")
    bin_a = LocationFactory(site=site, kind="bin", code="KG-V1")
    bolt = ItemFactory(sku="KG-V-BOLT")
    receive(bolt, bin_a, 5)
    key, secret = services.api_key_create(user=user_with_role("partner", site), name="etag", scopes=["read_inventory"])
    client = _client(secret)
    levels = "/api/v1/inventory/levels/"
    assert client.get(levels).status_code == 200  # builds the entry; this process learns the counters
    cache.set(key_gate.touch_key(key.prefix), 1, timeout=60)  # no flush due below
    trips = RoundTrips(monkeypatch)
    first = client.get(levels)
    assert first.status_code == 200 and first["ETag"]
    again = client.get(levels, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert trips.commands == ["EVALSHA", "EVALSHA"]
    with django_capture_on_commit_callbacks(execute=True):  # versions move after commit
        receive(bolt, bin_a, 1)
    changed = client.get(levels, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    # A grant changed elsewhere: the rebuilt entry's counters are the ones read, not the old hint.
    other = SiteFactory(code="kg-w")
    from guardian.shortcuts import assign_perm

    with django_capture_on_commit_callbacks(execute=True):
        assign_perm("tracker.view_site", key.user, other)
    widened = client.get(levels, HTTP_IF_NONE_MATCH=changed["ETag"])
    assert widened.status_code == 200 and widened["ETag"] != changed["ETag"]
