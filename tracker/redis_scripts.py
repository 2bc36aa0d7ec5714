"""Lua scripts registered once per Redis client, for the modules that fold several Redis
commands into one round trip (the auth gate, the upload hand-off, the data versions).

redis-py's ``Script`` sends ``EVALSHA`` and loads the source again on ``NOSCRIPT`` (a Redis
restarted or flushed of its scripts), so registering is free of round trips; keeping one
``Script`` per (client, source) saves hashing the source on every call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.commands.core import Script

_registered: dict[tuple[int, str], Script] = {}


def lua(client: Any, source: str) -> Script:
    """``client``'s ``Script`` for ``source`` (registered on first use)."""
    script = _registered.get((id(client), source))
    if script is None:
        script = _registered[(id(client), source)] = client.register_script(source)
    return script
