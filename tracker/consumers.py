"""Websocket endpoints. A user joins only the groups of sites they hold.

The user is re-loaded from the database on connect: permission caches on the
session's user object must not outlive a revoked grant.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from tracker.models import Location, Site
from tracker.observability.metrics import websocket_connections
from tracker.realtime import site_group, station_group
from tracker.request_context import actor_or_none
from tracker.scoping import user_can_access_site

FORBIDDEN = 4403


@database_sync_to_async
def _resolve(user_id, *, site_code: str | None = None, station_code: str | None = None):
    """Return the group name the user may join, or None (fails closed)."""
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    if site_code is not None:
        site = Site.objects.filter(code=site_code).first()
        if site is not None and user_can_access_site(user, site):
            return site_group(site.pk)
        return None
    location = Location.objects.select_related("site").filter(code=station_code).first()
    if location is not None and user_can_access_site(user, location.site):
        return station_group(location.pk)
    return None


class _ScopedConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def _join(self, group: str | None) -> None:
        if group is None:
            await self.close(code=FORBIDDEN)
            return
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        websocket_connections.inc()
        self._counted = True
        await self.send_json({"type": "hello", "group": group})

    async def disconnect(self, code):
        if getattr(self, "_counted", False):
            self._counted = False
            websocket_connections.dec()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def shopfloor_event(self, message):
        await self.send_json(message["event"])


class SiteConsumer(_ScopedConsumer):
    async def connect(self):
        user = self.scope.get("user")
        user_id = getattr(actor_or_none(user), "pk", None)
        await self._join(await _resolve(user_id, site_code=self.scope["url_route"]["kwargs"]["site_code"]))


class StationConsumer(_ScopedConsumer):
    async def connect(self):
        user = self.scope.get("user")
        user_id = getattr(actor_or_none(user), "pk", None)
        await self._join(await _resolve(user_id, station_code=self.scope["url_route"]["kwargs"]["station_code"]))
