"""/api/v1/webhooks/: endpoints scoped to the user's sites (and own unless a
manager), the delivery log with constant query counts, and replay."""

from __future__ import annotations

import httpx
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tests.factories.webhooks import WebhookEndpointFactory
from tracker import services as core
from tracker.webhooks import services, targets
from tracker.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


@pytest.fixture(autouse=True)
def _public_dns_and_receiver(monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr(services, "http_transport", httpx.MockTransport(lambda request: httpx.Response(204)))


@pytest.fixture
def world():
    site_a, site_b = SiteFactory(code="wa"), SiteFactory(code="wb")
    partner = user_with_role("partner", site_a, site_b)
    key, secret = core.api_key_create(user=partner, name="ERP", scopes=["webhooks"], sites=[site_a])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return {"a": site_a, "b": site_b, "partner": partner, "client": client, "key": key}


def _delivery(endpoint, status=DeliveryStatus.SUCCEEDED):
    event = WebhookEvent.objects.create(
        site=endpoint.site,
        type="stock.changed",
        payload={"type": "stock.changed", "data": {}},
        created_at=timezone.now(),
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, status=status, attempts=1)
    WebhookAttempt.objects.create(delivery=delivery, at=timezone.now(), status_code=200, response_ms=12)
    return delivery


def test_partner_key_creates_an_endpoint_and_sees_the_secret_once(world):
    client = world["client"]
    body = {"site": "wa", "url": "https://erp.example.com/hooks", "event_types": ["stock.changed", "receipt.posted"]}
    response = client.post(ENDPOINTS, body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["owner"] == world["partner"].username
    listed = client.get(ENDPOINTS).json()["results"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    rotated = client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/").json()
    assert rotated["secret"] != created["secret"]


def test_bad_type_site_outside_the_key_and_internal_url_are_refused(world, monkeypatch):
    client = world["client"]
    base = {"site": "wa", "url": "https://erp.example.com/hooks", "event_types": ["stock.changed"]}
    bad_type = client.post(ENDPOINTS, {**base, "event_types": ["stock.exploded"]}, format="json")
    assert bad_type.status_code == 400 and "event_types" in bad_type.json()["errors"]
    # The user holds site B, but the key is limited to site A: B does not exist for it.
    other_site = client.post(ENDPOINTS, {**base, "site": "wb"}, format="json")
    assert other_site.status_code == 400 and "site" in other_site.json()["errors"]
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["169.254.169.254"])
    internal = client.post(ENDPOINTS, base, format="json")
    assert internal.status_code == 400 and internal.json()["code"] == "webhook_target_refused"
    assert not WebhookEndpoint.objects.exists()


def test_key_without_the_webhooks_scope_is_forbidden(world):
    _, secret = core.api_key_create(user=world["partner"], name="reader", scopes=["read_inventory"])
    response = APIClient().get(ENDPOINTS, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "webhooks" in response.json()["detail"]


def test_partners_see_their_own_endpoints_managers_all_of_their_sites(world):
    mine = WebhookEndpointFactory(site=world["a"], owner=world["partner"])
    someone_elses = WebhookEndpointFactory(site=world["a"])
    other_site = WebhookEndpointFactory(site=world["b"])
    assert [e["id"] for e in world["client"].get(ENDPOINTS).json()["results"]] == [mine.pk]
    assert world["client"].get(f"{ENDPOINTS}{someone_elses.pk}/").status_code == 404
    manager = APIClient()
    manager.force_authenticate(user_with_role("plant manager", world["a"]))
    ids = {e["id"] for e in manager.get(ENDPOINTS).json()["results"]}
    assert ids == {mine.pk, someone_elses.pk}
    assert manager.get(f"{ENDPOINTS}{other_site.pk}/").status_code == 404
    viewer = APIClient()
    viewer.force_authenticate(user_with_role("viewer", world["a"]))
    assert viewer.get(ENDPOINTS).json()["results"] == []
    assert viewer.post(ENDPOINTS, {}, format="json").status_code == 403


def test_update_disable_enable_and_delete(world):
    endpoint = WebhookEndpointFactory(site=world["a"], owner=world["partner"])
    client = world["client"]
    url = f"{ENDPOINTS}{endpoint.pk}/"
    changed = client.patch(url, {"event_types": ["lot.recalled"], "active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["event_types"] == ["lot.recalled"] and changed.json()["active"] is False
    assert changed.json()["disabled_reason"]
    enabled = client.patch(url, {"active": True}, format="json").json()
    assert enabled["active"] is True and enabled["disabled_reason"] == ""
    assert client.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_and_replay(world, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpointFactory(site=world["a"], owner=world["partner"])
    delivery = _delivery(endpoint, status=DeliveryStatus.DEAD)
    _delivery(WebhookEndpointFactory(site=world["a"]))  # another owner's
    client = world["client"]
    listed = client.get(DELIVERIES).json()["results"]
    assert [d["id"] for d in listed] == [delivery.pk]
    assert listed[0]["event_id"] == delivery.event_id and listed[0]["status"] == "dead"
    detail = client.get(f"{DELIVERIES}{delivery.pk}/").json()
    assert detail["attempt_log"][0]["status_code"] == 200 and detail["payload"]["type"] == "stock.changed"
    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(f"{DELIVERIES}{delivery.pk}/replay/")
    assert replayed.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_log.count() == 2
    assert client.get(DELIVERIES, {"status": "succeeded"}).json()["count"] == 1


def test_replay_to_a_disabled_endpoint_is_a_conflict(world):
    endpoint = WebhookEndpointFactory(site=world["a"], owner=world["partner"], active=False)
    delivery = _delivery(endpoint, status=DeliveryStatus.DEAD)
    response = world["client"].post(f"{DELIVERIES}{delivery.pk}/replay/")
    assert response.status_code == 409 and response.json()["code"] == "endpoint_disabled"


@pytest.mark.parametrize("rows", [1, 6])
def test_list_query_counts_do_not_grow(world, rows, django_assert_num_queries):
    manager = user_with_role("plant manager", world["a"])
    client = APIClient()
    client.force_authenticate(manager)
    for _ in range(rows):
        _delivery(WebhookEndpointFactory(site=world["a"]))
    client.get(ENDPOINTS)  # warm permission caches of this user object
    # count + page (permissions are cached on the user): the same for 1 and many rows
    with django_assert_num_queries(2):
        assert client.get(DELIVERIES).json()["count"] == rows
    with django_assert_num_queries(2):
        assert client.get(ENDPOINTS).json()["count"] == rows
