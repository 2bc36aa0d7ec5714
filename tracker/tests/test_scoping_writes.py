"""Core API and webhooks: creates naming another site are refused and write nothing;
webhook endpoints and deliveries through the scoping matrix; station websockets."""

from __future__ import annotations

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.utils import timezone

from tests.api_scoping import accepted, client_of, refused
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tests.factories.webhooks import WebhookEndpointFactory
from tests.scoping import DetailWrite, ScopedEndpointMatrix, covers
from tests.scoping_world import TwoSites, two_sites
from tracker.routing import websocket_urlpatterns
from tracker.webhooks import services as webhooks
from tracker.webhooks import targets
from tracker.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent


@pytest.fixture(autouse=True)
def _public_dns_and_receiver(monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr(webhooks, "http_transport", httpx.MockTransport(lambda request: httpx.Response(204)))


@pytest.fixture
def w(db) -> TwoSites:
    return two_sites()


@covers("location-list POST")
@pytest.mark.django_db
def test_a_location_at_another_site_or_under_its_location_is_refused(w):
    api = client_of(w)
    api.handler._force_user.user_permissions.add(Permission.objects.get(codename="add_location"))
    body = {"site": w.a.site.code, "code": "ALPHA-NEW", "name": "New bin", "kind": "bin"}
    refused(api, "POST", "/api/v1/locations/", {**body, "site": w.b.site.code}, field="site")
    refused(api, "POST", "/api/v1/locations/", {**body, "parent": w.b.stores.code}, field="parent")
    accepted(api, "POST", "/api/v1/locations/", {**body, "parent": w.a.plant.stores.parent.code})


@covers("webhook-endpoint-list POST")
@pytest.mark.django_db
def test_a_webhook_endpoint_for_another_site_is_refused(w):
    api = client_of(w)
    body = {"site": w.a.site.code, "url": "https://erp.example.com/hooks", "event_types": ["stock.changed"]}
    refused(api, "POST", "/api/v1/webhooks/endpoints/", {**body, "site": w.b.site.code}, field="site")
    accepted(api, "POST", "/api/v1/webhooks/endpoints/", body)


# Only plant managers (webhooks.manage_all_webhookendpoint) see endpoints they do not own.
MANAGERS = ("plant manager",)


class TestWebhookEndpointsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/webhooks/endpoints/"
    key_field = "id"
    viewer_roles = MANAGERS
    detail_writes = {
        "webhook-endpoint-detail PATCH": DetailWrite(method="PATCH", body={"description": "changed"}),
        "webhook-endpoint-detail PUT": DetailWrite(method="PUT", body={"description": "replaced"}),
        "webhook-endpoint-detail DELETE": DetailWrite(method="DELETE"),
        "webhook-endpoint-rotate-secret": DetailWrite(suffix="rotate-secret/"),
    }

    def make_object(self, site):
        return WebhookEndpointFactory(site=site)


class TestWebhookDeliveriesScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/webhooks/deliveries/"
    key_field = "id"
    viewer_roles = MANAGERS
    detail_writes = {"webhook-delivery-replay": DetailWrite(suffix="replay/")}

    def make_object(self, site):
        endpoint = WebhookEndpointFactory(site=site)
        event = WebhookEvent.objects.create(
            site=site, type="stock.changed", payload={"type": "stock.changed"}, created_at=timezone.now()
        )
        return WebhookDelivery.objects.create(endpoint=endpoint, event=event, status=DeliveryStatus.DEAD, attempts=1)


# --- websockets -------------------------------------------------------------------------------


async def _connect(path: str, user) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected, code


@covers("ws-station CONNECT")
@pytest.mark.django_db(transaction=True)
async def test_station_stream_of_another_site_is_refused():
    @sync_to_async
    def world():
        site_a, site_b = SiteFactory(code="st-a"), SiteFactory(code="st-b")
        LocationFactory(site=site_a, code="ST-A-CUT", kind="workstation")
        LocationFactory(site=site_b, code="ST-B-CUT", kind="workstation")
        return user_with_role("operator", site_a)

    user = await world()
    assert await _connect("/ws/stations/ST-B-CUT/", user) == (False, 4403)
    assert await _connect("/ws/stations/NOWHERE/", user) == (False, 4403)
    assert (await _connect("/ws/stations/ST-A-CUT/", user))[0]
