"""Partner API keys: scopes, site lists, rate limits and usage logging."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.tracker import LocationFactory, SiteFactory, UserFactory, user_with_role
from tracker import services
from tracker.api.access import Access, Needs
from tracker.api.key_gate import touch_key
from tracker.api.partner import ApiKeyScopePermission, required_scope
from tracker.errors import ValidationFailed
from tracker.models import ApiKey, ApiKeyScope

pytestmark = pytest.mark.django_db


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def two_sites():
    return SiteFactory(code="pa"), SiteFactory(code="pb")


def test_key_sees_only_its_sites_even_if_the_user_holds_more(two_sites):
    site_a, site_b = two_sites
    LocationFactory(site=site_b, code="PB-BIN-1")
    user = user_with_role("partner", site_a, site_b)
    _, limited = services.api_key_create(user=user, name="A only", sites=[site_a])
    _, unlimited = services.api_key_create(user=user, name="all")
    assert [s["code"] for s in _client(limited).get("/api/v1/sites/").json()["results"]] == ["pa"]
    assert _client(limited).get("/api/v1/sites/pb/").status_code == 404
    assert _client(limited).get("/api/v1/locations/PB-BIN-1/").status_code == 404
    assert _client(limited).get("/api/v1/locations/", {"site": "pb"}).json()["count"] == 0
    assert {s["code"] for s in _client(unlimited).get("/api/v1/sites/").json()["results"]} == {"pa", "pb"}


def test_key_sites_limit_a_superuser_too(two_sites):
    site_a, _ = two_sites
    admin = UserFactory(is_superuser=True, is_staff=True)
    _, secret = services.api_key_create(user=admin, name="admin key", sites=[site_a])
    assert [s["code"] for s in _client(secret).get("/api/v1/sites/").json()["results"]] == ["pa"]


def test_a_key_site_the_user_lost_stays_hidden(two_sites):
    site_a, site_b = two_sites
    user = user_with_role("partner", site_a)
    _, secret = services.api_key_create(user=user, name="k", sites=[site_a, site_b])
    assert [s["code"] for s in _client(secret).get("/api/v1/sites/").json()["results"]] == ["pa"]


def test_writes_on_undeclared_endpoints_are_closed_to_keys_but_not_to_sessions(two_sites):
    site_a, _ = two_sites
    user = user_with_role("plant manager", site_a)
    user.user_permissions.add(Permission.objects.get(codename="add_location"))
    _, secret = services.api_key_create(user=user, name="all scopes", scopes=ApiKeyScope.values)
    body = {"site": "pa", "code": "PA-Z9", "name": "Zone", "kind": "zone"}
    by_key = _client(secret).post("/api/v1/locations/", body, format="json")
    assert by_key.status_code == 403
    assert by_key.json()["code"] == "permission_denied" and "not open to API keys" in by_key.json()["detail"]
    session = APIClient()
    session.force_authenticate(user)
    assert session.post("/api/v1/locations/", body, format="json").status_code == 201


def test_declared_scope_is_required(two_sites):
    site_a, _ = two_sites
    user = user_with_role("partner", site_a)
    _, without = services.api_key_create(user=user, name="no scopes")
    _, with_scope = services.api_key_create(user=user, name="hooks", scopes=["webhooks"])
    denied = _client(without).get("/api/v1/webhooks/endpoints/")
    assert denied.status_code == 403 and denied["Content-Type"] == "application/problem+json"
    assert denied.json()["type"] == "urn:shopfloor:problem:permission_denied"
    assert _client(with_scope).get("/api/v1/webhooks/endpoints/").status_code == 200


def test_required_scope_by_action_method_and_fallback():
    view = SimpleNamespace(
        action="create",
        access=Access(read="read_inventory", write="webhooks", actions={"create": Needs(scope="write_work_orders")}),
    )
    assert required_scope(view, SimpleNamespace(method="POST")) == "write_work_orders"
    view.action = "list"
    assert required_scope(view, SimpleNamespace(method="GET")) == "read_inventory"
    assert required_scope(view, SimpleNamespace(method="HEAD")) == "read_inventory"
    view.action = "release"
    assert required_scope(view, SimpleNamespace(method="POST")) == "webhooks"
    assert required_scope(SimpleNamespace(action="list"), SimpleNamespace(method="GET")) is None


def test_a_view_naming_the_replaced_attributes_is_refused_not_opened():
    view = SimpleNamespace(action="list", required_scope={"GET": "read_inventory"})
    with pytest.raises(TypeError):
        required_scope(view, SimpleNamespace(method="GET"))
    assert not ApiKeyScopePermission().has_permission(SimpleNamespace(auth=ApiKey(), method="GET"), view)


def test_unknown_scopes_are_refused():
    with pytest.raises(ValidationFailed):
        services.api_key_create(user=UserFactory(), name="x", scopes=["read_everything"])


def test_rate_limit_per_key_with_retry_after(settings, two_sites):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    site_a, _ = two_sites
    user = user_with_role("partner", site_a)
    _, first = services.api_key_create(user=user, name="one")
    _, second = services.api_key_create(user=user, name="two")
    client = _client(first)
    assert [client.get("/api/v1/sites/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/api/v1/sites/")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["code"] == "rate_limited"
    assert _client(second).get("/api/v1/sites/").status_code == 200  # counted per key
    session = APIClient()
    session.force_authenticate(user)
    assert all(session.get("/api/v1/sites/").status_code == 200 for _ in range(5))


def test_every_use_is_logged_and_counted_without_a_write_per_request(two_sites, caplog):
    site_a, _ = two_sites
    key, secret = services.api_key_create(user=user_with_role("partner", site_a), name="counted")
    client = _client(secret)
    with caplog.at_level(logging.INFO, logger="tracker.api.keys"):
        for _ in range(4):
            client.get("/api/v1/sites/")
    uses = [r for r in caplog.records if r.getMessage() == "api key used"]
    assert len(uses) == 4 and uses[0].api_key == key.prefix and uses[0].path == "/api/v1/sites/"
    key.refresh_from_db()
    assert key.use_count == 1  # flushed on the first use; the next three wait in the cache
    cache.delete(touch_key(key.prefix))  # the touch interval has passed
    client.get("/api/v1/sites/")
    key.refresh_from_db()
    assert key.use_count == 5
