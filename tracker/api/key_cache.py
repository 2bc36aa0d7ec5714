"""What an API key authenticates as, cached between requests and dropped on any change.

Every partner request used to read the key, its user, the key's sites, the
user's permissions (two queries) and the user's sites: five queries before
the view ran. The result is now kept in the cache (Redis in the production
shape) under the key's prefix, stamped with the *auth epoch*: a counter that
any change to keys, users, groups, permissions or site grants bumps after its
transaction commits. A request reads the epoch and its entry in one round trip
and rebuilds the entry when the stamps differ, so a revoked key, a removed
grant or a deactivated user stops working on the next request, in every
process.

The epoch is read *before* the database, so an entry built from rows that a
concurrent change is about to replace carries the old epoch and is rebuilt.

The embedded default's cache is per process (LocMemCache), so a change made in
another process (a management command) cannot bump this one's epoch: there an
entry lives only ``LOCAL_ENTRY_TTL`` seconds.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from tracker.api.conditional import scope_of
from tracker.models import ApiKey
from tracker.scoping import granted_site_ids

logger = logging.getLogger(__name__)

EPOCH_KEY = "auth:epoch"
ENTRY_TTL = 3600
LOCAL_ENTRY_TTL = 5


def _entry_ttl() -> int:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return LOCAL_ENTRY_TTL if backend.endswith("LocMemCache") else ENTRY_TTL


def _entry_key(prefix: str) -> str:
    return f"auth:apikey:{prefix}"


def _current_epoch(epoch_key: str = EPOCH_KEY) -> int:
    epoch = cache.get(epoch_key)
    if epoch is None:
        # First use, or the cache lost it: start from a random value so entries
        # stamped before the loss can never match.
        cache.add(epoch_key, secrets.randbelow(2**31), timeout=None)
        epoch = cache.get(epoch_key)
    return epoch


def bump_epoch(epoch_key: str = EPOCH_KEY) -> None:
    """Invalidate every cached key entry stamped with ``epoch_key`` (partner keys' by
    default; device keys have their own, ``devices.api.authentication``): called after a
    commit that changes access."""
    try:
        cache.incr(epoch_key)
    except ValueError:  # not set yet: nothing is cached against it
        pass
    except Exception:
        logger.exception("could not bump the auth epoch %s; dropping it", epoch_key)
        cache.delete(epoch_key)


def bump_epoch_on_commit(*args: Any, **kwargs: Any) -> None:
    """Signal receiver: bump now and again once the surrounding transaction commits
    (an entry rebuilt in between, from the rows not yet committed, is dropped then)."""
    bump_epoch()
    transaction.on_commit(bump_epoch)


def _build(prefix: str) -> ApiKey | None:
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if key is None:
        return None
    user = key.user
    # A dynamic attribute, read by tracker.scoping.api_key_site_ids.
    user.api_key_site_ids = frozenset(key.sites.values_list("pk", flat=True)) or None  # type: ignore[attr-defined]
    if user.is_active:
        user.get_all_permissions()  # fills ModelBackend's _perm_cache, pickled with the user
        granted_site_ids(user)  # and the scoping's site ids
        scope_of(user, key)  # and the ETag's fingerprint of them (tracker.api.conditional)
    return key


def load_key(prefix: str) -> ApiKey | None:
    """The key with this prefix, its user ready to authorise (cached); None if unknown."""
    entry_key = _entry_key(prefix)
    try:
        found = cache.get_many([EPOCH_KEY, entry_key])
        epoch = found.get(EPOCH_KEY)
        if epoch is None:
            epoch = _current_epoch()
        entry = found.get(entry_key)
        if entry is not None and entry[0] == epoch:
            return entry[1]
    except Exception:  # the cache is down: authenticate from the database
        logger.warning("auth cache unavailable; reading the key from the database", exc_info=True)
        return _build(prefix)
    key = _build(prefix)
    try:
        cache.set(entry_key, (epoch, key), timeout=_entry_ttl())
    except Exception:
        logger.warning("could not cache api key %s", prefix, exc_info=True)
    return key
