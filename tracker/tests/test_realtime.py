"""Websocket streams: session users join only their sites; events arrive after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from tests.factories.tracker import SiteFactory, user_with_role
from tests.scoping import covers
from tracker import services
from tracker.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(path: str, user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


@sync_to_async
def _world():
    site_a, site_b = SiteFactory(code="ws-a"), SiteFactory(code="ws-b")
    return site_a, site_b, user_with_role("supervisor", site_a), user_with_role(None, site_a)


async def test_user_joins_own_site_and_receives_events_after_commit():
    site_a, _, user, _ = await _world()
    communicator = _communicator("/ws/sites/ws-a/", user)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    await sync_to_async(services.alert_raise)(site=site_a, kind="k", subject="s", message="hot")
    event = await communicator.receive_json_from(timeout=2)
    assert event["type"] == "alert.raised" and event["alert"]["message"] == "hot"
    assert event["occurred_at"].endswith("Z")
    await communicator.disconnect()


@covers("ws-site CONNECT")
async def test_other_site_no_role_and_anonymous_are_refused():
    _, _, user, no_role = await _world()
    for path, who in (("/ws/sites/ws-b/", user), ("/ws/sites/ws-a/", no_role), ("/ws/sites/ws-a/", AnonymousUser())):
        communicator = _communicator(path, who)
        connected, code = await communicator.connect()
        assert not connected and code == 4403, (path, who)


async def test_rolled_back_change_is_never_broadcast():
    site_a, _, user, _ = await _world()
    communicator = _communicator("/ws/sites/ws-a/", user)
    await communicator.connect()
    await communicator.receive_json_from()

    @sync_to_async
    def raise_then_roll_back():
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            services.alert_raise(site=site_a, kind="k", subject="gone", message="rolled back")
            raise RuntimeError

    await raise_then_roll_back()
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
