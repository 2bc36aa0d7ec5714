"""The one way to push a change to open pages: ``broadcast()``.

Events go out after the surrounding transaction commits, so no page ever sees
a change that was rolled back. Shape: ``{"type", "occurred_at", "site", ...}``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

#: Called synchronously by broadcast(), inside the caller's transaction, with
#: (site_id=, type=, data=, occurred_at=). The webhooks app registers its outbox
#: writer here so tracker never imports it.
_listeners: list[Callable[..., None]] = []


def add_broadcast_listener(listener: Callable[..., None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def site_group(site_id: int) -> str:
    return f"site.{site_id}"


def station_group(workstation_id: int) -> str:
    return f"station.{workstation_id}"


class _Sender:
    """One event loop per process, on a daemon thread, that sends events in order.

    ``async_to_sync`` per event built a new loop, and with it a new Redis
    connection, for every event: about 8 ms each, inside the request. A long-
    lived loop keeps the channel layer's connection pool, and the request only
    enqueues. Created lazily and again after a fork (gunicorn and Celery fork).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None

    def submit(self, layer, groups: tuple[str, ...], event: dict[str, Any]) -> None:
        loop, queue = self._ensure()
        loop.call_soon_threadsafe(queue.put_nowait, (layer, groups, event))

    def _ensure(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._pid != os.getpid() or self._loop is None:
                ready = threading.Event()
                threading.Thread(target=self._run, args=(ready,), name="shopfloor-broadcast", daemon=True).start()
                ready.wait()
                self._pid = os.getpid()
            if self._loop is None or self._queue is None:
                raise RuntimeError("the broadcast thread did not set up its event loop")
            return self._loop, self._queue

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        queue: asyncio.Queue[tuple[Any, tuple[str, ...], dict[str, Any]]] = asyncio.Queue()
        self._queue = queue
        ready.set()
        self._loop.run_until_complete(self._drain(queue))

    async def _drain(self, queue: asyncio.Queue) -> None:
        while True:
            layer, groups, event = await queue.get()
            for group in groups:
                try:
                    await layer.group_send(group, {"type": "shopfloor.event", "event": event})
                except Exception:  # a page missing an update must not stop later ones
                    logger.exception("broadcast to %s failed", group)


_sender = _Sender()


def _send(groups: tuple[str, ...], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if type(layer).__module__.startswith("channels_redis"):
        try:
            _sender.submit(layer, groups, event)
        except Exception:  # a page missing an update must not fail the business write
            logger.exception("broadcast to %s failed", groups)
        return
    # The in-memory layer's queues belong to the caller's loop: send synchronously.
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": "shopfloor.event", "event": event})
        except Exception:  # a page missing an update must not fail the business write
            logger.exception("broadcast to %s failed", group)


def broadcast(
    *, site_id: int, type: str, data: dict[str, Any], station_ids: tuple[int, ...] = (), occurred_at=None
) -> None:
    """Send ``data`` as event ``type`` to the site's group (and stations') after commit.

    Listeners (webhook outbox) run now, in the caller's transaction: call this
    inside the business write's ``atomic`` block so the event commits with it.
    """
    occurred_at = occurred_at or timezone.now()
    for listener in _listeners:
        listener(site_id=site_id, type=type, data=data, occurred_at=occurred_at)
    event = {
        "type": type,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "site": site_id,
        **data,
    }
    groups = (site_group(site_id), *(station_group(s) for s in station_ids))
    transaction.on_commit(functools.partial(_send, groups, event))
