"""Names in the default cache as it stores them, worked out once per process.

The hand-written Redis calls (the auth gate's script, the data versions' bump, the
upload hand-off) name their keys as the cache stores them:
``cache.make_and_validate_key(name)``, the key prefix and version joined to the name
and the name checked. Each request names five to ten keys, the same ones again and
again; remembering them spares that work and the look-ups of the ``cache`` proxy.
Forgotten when the ``CACHES`` setting changes (a test's ``override_settings``).
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver


@functools.lru_cache(maxsize=8192)
def stored_key(name: str) -> str:
    """``name`` as the default cache stores it (``make_and_validate_key``)."""
    return caches["default"].make_and_validate_key(name)


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    if setting == "CACHES":
        stored_key.cache_clear()
