"""Data versions per site, moved after every committed change: what API ETags are made of.

Three kinds of counter in the Django cache (Redis in the production shape, so
shared by every web process):

* ``data:v:site:<id>``: moves when a row of that site changes;
* ``data:v:global``: moves when a row without a site changes (an item, a user);
* ``data:v:all``: moves on every change (what a superuser's ETag is made of).

What moves them, always after the write commits (a reader must never pair
the version that follows a change with data read before it):

* every ``post_save`` / ``post_delete`` / ``m2m_changed`` of a model of ours
  (tracker, inventory, wip, devices) or of ``auth`` (its site by ``site_id``
  when the row has one, else the global counter);
* every ``broadcast()``, which also covers the services' bulk
  ``QuerySet.update()`` calls (levels changed with ``F()``) that send no signal.

A transaction's changes are folded into one ``on_commit`` callback: one
round trip (a Lua script). A missing counter (evicted, never set) starts from the
clock, so a value is never reused for other data. ``SAFETY_SECONDS`` bounds
what a change that moved no counter could cost: ETags also carry the time
bucket, so such a change is seen within that long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

from tracker.cache_keys import stored_key

logger = logging.getLogger(__name__)

#: ETags made of these versions also change every this many seconds (the safety net).
SAFETY_SECONDS = 300
APPS = frozenset({"tracker", "inventory", "wip", "devices", "auth", "guardian"})
#: Rows written on every request, by the bookkeeping itself or as raw input (an upload's effects
#: come from its processing, which moves the versions): they change no conditional resource.
IGNORED = frozenset({"tracker.idempotencyrecord", "tracker.auditevent", "devices.readerupload"})

ALL = "data:v:all"
GLOBAL = "data:v:global"


def site_key(site_id: int) -> str:
    return f"data:v:site:{site_id}"


#: Each counter started from the clock if missing, then moved: one command for all of them
#: (a pipeline of two commands per counter cost several times its round trip in redis-py).
_BUMP = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'NX')
  redis.call('INCR', KEYS[i])
end
return #KEYS
"""


def bump_now(keys: Iterable[str]) -> None:
    """Move these counters now (callers: after commit), in one round trip with Redis."""
    from tracker.api.key_gate import redis_client
    from tracker.redis_scripts import lua

    names = sorted(set(keys) | {ALL})
    client = redis_client()
    try:
        if client is not None:
            lua(client, _BUMP)(keys=[stored_key(name) for name in names], args=[time.time_ns()])
            return
        for name in names:
            try:
                cache.incr(name)
            except ValueError:
                cache.add(name, time.time_ns(), timeout=None)
                cache.incr(name)
    except Exception:  # a page or poll served once more in full must not fail the write
        logger.exception("could not move the data versions %s", names)


class _Bump:
    """The pending ``on_commit`` callback of one transaction."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.done = False

    def __call__(self) -> None:
        self.done = True
        bump_now(self.keys)


def _pending() -> _Bump | None:
    """The bump registered in the current (innermost) atomic block, if any: a savepoint's own
    callback is dropped with it when it rolls back, and one registered in an outer block
    runs when that commits (so a test's capture of a block's callbacks sees its bump)."""
    connection = transaction.get_connection()
    here = set(connection.savepoint_ids)
    for entry in reversed(connection.run_on_commit):
        func = entry[1]
        if isinstance(func, _Bump) and not func.done and entry[0] == here:
            return func
    return None


def changed(site_id: int | None) -> None:
    """Note a change of ``site_id`` (None: not of one site): its version moves once the transaction commits."""
    key = site_key(site_id) if site_id is not None else GLOBAL
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        bump_now([key])
        return
    bump = _pending()
    if bump is None:
        bump = _Bump()
        transaction.on_commit(bump)
    bump.keys.add(key)


def current(keys: list[str]) -> list[int]:
    """The counters' values now (one round trip); missing ones are started from the clock."""
    found = cache.get_many(keys)
    missing = [k for k in keys if found.get(k) is None]
    for name in missing:
        cache.add(name, time.time_ns(), timeout=None)
    if missing:
        found.update(cache.get_many(missing))
    return [int(found.get(k) or 0) for k in keys]


# --- what counts as a change --------------------------------------------------


def _ours(sender: Any) -> bool:
    meta = getattr(sender, "_meta", None)
    return meta is not None and meta.app_label in APPS and meta.label_lower not in IGNORED


def _on_row(sender: type[Model], instance: Model, update_fields: Any = None, **_: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes no resource (and would move every ETag)
    if _ours(sender):
        from tracker.models import Site

        changed(instance.pk if isinstance(instance, Site) else getattr(instance, "site_id", None))


def _on_m2m(sender: Any, instance: Model, action: str, **_: Any) -> None:
    if action.startswith("post_") and _ours(type(instance)):
        changed(getattr(instance, "site_id", None))


def _on_broadcast(*, site_id: int, **_: Any) -> None:
    changed(site_id)


def connect() -> None:
    """Hook the versions up (``TrackerConfig.ready``)."""
    from tracker.realtime import add_broadcast_listener

    add_broadcast_listener(_on_broadcast)
    post_save.connect(_on_row, dispatch_uid="tracker.versions.save")
    post_delete.connect(_on_row, dispatch_uid="tracker.versions.delete")
    m2m_changed.connect(_on_m2m, dispatch_uid="tracker.versions.m2m")
