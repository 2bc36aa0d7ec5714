"""Partner API keys: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from tracker.api.key_cache import load_key
from tracker.keys import key_matches, split_key
from tracker.models import ApiKey

KEY_KIND = "sfk"

logger = logging.getLogger("tracker.api.keys")


def _presented_key(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in {"bearer", "api-key", "token"} and value.strip().startswith(f"{KEY_KIND}_"):
        return value.strip()
    value = request.headers.get("X-API-Key", "").strip()
    return value or None


def _uses_key(key: ApiKey) -> str:
    return f"apikey:uses:{key.pk}"


def _record_use(request, key: ApiKey, now) -> None:
    """Log the use and count it in the cache; the count and ``last_used_at`` go
    to the row in one UPDATE at most every API_KEY_TOUCH_SECONDS per key."""
    logger.info(
        "api key used",
        extra={"api_key": key.prefix, "user_id": key.user_id, "method": request.method, "path": request.path},
    )
    counter = _uses_key(key)
    try:
        cache.incr(counter)
    except ValueError:  # not there yet (or evicted): start it
        if not cache.add(counter, 1, timeout=None):
            cache.incr(counter)
    touch_seconds = settings.SHOPFLOOR["API_KEY_TOUCH_SECONDS"]
    # One flush per key per interval across all processes: only the request that
    # adds the marker writes (the key itself may come from the auth cache, so its
    # last_used_at cannot tell), and two workers never subtract the same uses.
    if not cache.add(f"{counter}:touched", 1, timeout=max(touch_seconds, 1)):
        return
    uses = max(int(cache.get(counter) or 0), 0)
    if uses:
        cache.decr(counter, uses)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, use_count=F("use_count") + uses)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates the key's owner; revoked, expired or unknown keys are 401."""

    def authenticate(self, request):
        presented = _presented_key(request)
        if presented is None:
            return None
        parts = split_key(presented)
        if parts is None or parts[0] != KEY_KIND:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        key = load_key(parts[1])
        if key is None or not key_matches(presented, key.hashed_key):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's user is inactive.")
        try:
            _record_use(request, key, now)
        except Exception:  # bookkeeping must never fail the request it counts
            logger.exception("recording the use of api key %s failed", key.prefix)
        user = key.user
        # restrict() reads api_key_site_ids (set by load_key) off the user: the key sees only its sites.
        user.api_key = key
        return user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="shopfloor"'
