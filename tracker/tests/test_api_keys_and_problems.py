from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.models import ApiKey, AuditEvent, IdempotencyRecord, Location

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_key():
    site = SiteFactory(code="pk-site")
    user = user_with_role("partner", site)
    key, secret = services.api_key_create(user=user, name="ERP")
    return key, secret, site


def test_key_is_stored_hashed_and_authenticates_by_bearer_and_header(partner_key):
    key, secret, site = partner_key
    assert secret not in key.hashed_key and key.prefix in secret
    for headers in ({"HTTP_AUTHORIZATION": f"Bearer {secret}"}, {"HTTP_X_API_KEY": secret}):
        response = APIClient().get("/api/v1/sites/", **headers)
        assert response.status_code == 200
        assert [s["code"] for s in response.json()["results"]] == [site.code]
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert AuditEvent.objects.filter(action="apikey.created", object_id=str(key.pk)).exists()


@pytest.mark.parametrize("mutate", ["revoke", "expire", "wrong", "malformed"])
def test_bad_keys_are_401_problems(partner_key, mutate):
    key, secret, _ = partner_key
    if mutate == "revoke":
        services.api_key_revoke(key=key)
    elif mutate == "expire":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif mutate == "wrong":
        secret = secret[:-4] + "AAAA"
    else:
        secret = "sfk_nonsense"
    response = APIClient().get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"] == "urn:shopfloor:problem:not_authenticated"
    assert body["detail"]


def test_location_create_is_idempotent_and_scoped(api_client):
    site_a, _ = SiteFactory(code="ia"), SiteFactory(code="ib")
    admin_like = user_with_role("plant manager", site_a)
    # plant managers don't create locations by default: grant it to this user for the test
    from django.contrib.auth.models import Permission

    admin_like.user_permissions.add(Permission.objects.get(codename="add_location"))
    api_client.force_authenticate(user_with_role(None, username=admin_like.username))
    body = {"site": "ia", "code": "IA-Z1", "name": "Zone 1", "kind": "zone"}
    first = api_client.post("/api/v1/locations/", body, HTTP_IDEMPOTENCY_KEY="k-1", format="json")
    assert first.status_code == 201, first.content
    again = api_client.post("/api/v1/locations/", body, HTTP_IDEMPOTENCY_KEY="k-1", format="json")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Location.objects.filter(code="IA-Z1").count() == 1
    changed = api_client.post(
        "/api/v1/locations/", {**body, "name": "Other"}, HTTP_IDEMPOTENCY_KEY="k-1", format="json"
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    # another site's location as parent, or another site: refused, nothing written
    other = api_client.post(
        "/api/v1/locations/", {**body, "site": "ib", "code": "IB-Z1"}, HTTP_IDEMPOTENCY_KEY="k-2", format="json"
    )
    assert other.status_code == 400
    assert "site" in other.json()["errors"]
    assert not Location.objects.filter(code="IB-Z1").exists()
    assert not IdempotencyRecord.objects.filter(key="k-2").exists()
    dup = api_client.post("/api/v1/locations/", {**body, "code": "IA-Z1"}, format="json")
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate"


def test_validation_problem_names_the_field(api_client):
    site = SiteFactory(code="v")
    user = user_with_role("plant manager", site)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="add_location"))
    api_client.force_authenticate(user_with_role(None, username=user.username))
    response = api_client.post("/api/v1/locations/", {"site": "v", "code": "", "kind": "moon"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "urn:shopfloor:problem:validation_failed"
    assert {"code", "name", "kind"} <= set(body["errors"])
