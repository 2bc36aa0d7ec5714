"""Partner API keys: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

``HashedKeyAuthentication`` holds what partner and device keys share: the checks, and
with Redis the pass through ``tracker.api.key_gate`` (``devices.api.authentication``
authenticates devices with it)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from tracker.api import conditional, key_gate
from tracker.api.key_cache import load_key
from tracker.keys import hash_key, key_matches, split_key
from tracker.models import ApiKey

if TYPE_CHECKING:
    from redis import Redis

KEY_KIND = "sfk"

logger = logging.getLogger("tracker.api.keys")


class HashedKey(Protocol):
    hashed_key: str
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None


def _log_use(request, key: ApiKey) -> None:
    logger.info(
        "api key used",
        extra={"api_key": key.prefix, "user_id": key.user_id, "method": request.method, "path": request.path},
    )


def _flush_uses(key: ApiKey, now: dt.datetime, uses: int) -> None:
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, use_count=F("use_count") + uses)


def _record_use(request, key: ApiKey, now) -> None:
    """Log the use and count it in the cache; the count and ``last_used_at`` go
    to the row in one UPDATE at most every API_KEY_TOUCH_SECONDS per key.
    (With Redis, ``tracker.api.key_gate`` does the same in the auth round trip.)"""
    _log_use(request, key)
    counter = key_gate.uses_key(key.prefix)
    try:
        cache.incr(counter)
    except ValueError:  # not there yet (or evicted): start it
        if not cache.add(counter, 1, timeout=None):
            cache.incr(counter)
    touch_seconds = settings.SHOPFLOOR["API_KEY_TOUCH_SECONDS"]
    # One flush per key per interval across all processes: only the request that
    # adds the marker writes (the key itself may come from the auth cache, so its
    # last_used_at cannot tell), and two workers never subtract the same uses.
    if not cache.add(key_gate.touch_key(key.prefix), 1, timeout=max(touch_seconds, 1)):
        return
    uses = max(int(cache.get(counter) or 0), 0)
    if uses:
        cache.decr(counter, uses)
    _flush_uses(key, now, uses)


def _view(request) -> Any:
    """The view this request goes to (DRF's parser context names it), or None."""
    return (getattr(request, "parser_context", None) or {}).get("view")


#: Per key prefix, the data version counters its last ETag needed (``tracker.api.conditional``): the
#: gate reads them in its round trip, and the answer uses them only when they are still the ones
#: the key's (possibly rebuilt) entry needs. A hint per process, so bounded rather than exact.
_counters_seen: dict[str, tuple[str, ...]] = {}
_COUNTERS_SEEN_MAX = 4096


def _counters(prefix: str, key: ApiKey) -> tuple[str, ...]:
    """The counters this key's answers are versioned by, remembered for its next request."""
    _, counters = conditional.scope_of(key.user, key)
    if _counters_seen.get(prefix) != counters:
        if len(_counters_seen) >= _COUNTERS_SEEN_MAX:
            _counters_seen.clear()
        _counters_seen[prefix] = counters
    return counters


def _window(view: Any, prefix: str) -> key_gate.Window | None:
    """The per-key rate window of ``view`` (None when it has none)."""
    from tracker.api.partner import ApiKeyRateThrottle  # partner imports the API's access rules

    for throttle_class in getattr(view, "throttle_classes", ()):
        if isinstance(throttle_class, type) and issubclass(throttle_class, ApiKeyRateThrottle):
            throttle = throttle_class()
            # Set by SimpleRateThrottle.__init__ from the rate; absent from the stubs.
            limit, duration = getattr(throttle, "num_requests", None), getattr(throttle, "duration", None)
            if throttle.rate is None or limit is None or duration is None:
                return None
            return key_gate.Window(cache_key=throttle.window_key(prefix), limit=limit, duration=duration)
    return None


class HashedKeyAuthentication(authentication.BaseAuthentication):
    """The checks every hashed key (``<kind>_<prefix>_<secret>``, see ``tracker.keys``) goes
    through: well formed, found by its prefix, its SHA-256 matching, not revoked, not
    expired, its holder still active. Subclasses say how the key is presented, where its
    row is, what its holder is and what a successful use records.

    With Redis (the production shape) the key is found, its use counted and its rate window
    applied in one round trip through ``tracker.api.key_gate`` (``gate_kind`` names its
    entries), and the same checks run on the key the gate returns. Without Redis, or when
    the gate fails, the key comes from ``load`` and the use is recorded by ``accept``."""

    #: The key's kind (its first part), e.g. ``sfk``.
    kind: ClassVar[str]
    #: How messages name the key: "API key", "device key".
    noun: ClassVar[str]
    realm: ClassVar[str]
    #: The gate's entries, epoch and row builder for these keys.
    gate_kind: ClassVar[key_gate.KeyKind]
    #: Where the gate's failures and the failed bookkeeping of a use are logged.
    log: ClassVar[logging.Logger]

    def presented(self, request) -> tuple[str | None, Any]:
        """(the presented key or None when this scheme has none, anything ``check_presented`` needs)."""
        raise NotImplementedError

    def load(self, prefix: str) -> HashedKey | None:
        """The key row with this prefix, its holder loaded; None if there is none."""
        raise NotImplementedError

    def check_presented(self, key: Any, presented_with: Any) -> None:
        """Refuse a key presented in a way its row forbids (raise AuthenticationFailed)."""

    def check_holder(self, key: Any) -> None:
        """Refuse a key whose holder may no longer authenticate (raise AuthenticationFailed)."""

    def accept(self, request, key: Any, now: dt.datetime) -> tuple[Any, Any]:
        """Without the gate: record the use and return DRF's (user, auth)."""
        raise NotImplementedError

    def principal(self, key: Any) -> tuple[Any, Any]:
        """DRF's (user, auth) for a key that passed every check."""
        raise NotImplementedError

    def gate_window(self, request, prefix: str) -> key_gate.Window | None:
        """The rate window the gate counts this request against; None (no limit) by default."""
        return None

    def gate_counters(self, request, prefix: str, key: Any = None) -> tuple[str, ...]:
        """The data version counters (``tracker.versions`` names) the gate reads with the use:
        with ``key`` None, this process's guess before the key is known; then the verified
        key's own. Versions read for a guess that was wrong are not used. None by default."""
        return ()

    def gated_use(self, request, key: Any, now: dt.datetime, uses: int | None) -> None:
        """Bookkeeping of a use the gate counted; ``uses`` is not None in the one request per
        touch interval that writes them (and ``last_used_at``) to the key's row."""

    def prefix_of(self, presented: str) -> str:
        parts = split_key(presented)
        if parts is None or parts[0] != self.kind:
            raise exceptions.AuthenticationFailed(f"Malformed {self.noun}.")
        return parts[1]

    def verify(self, key: Any, presented: str, presented_with: Any, now: dt.datetime) -> None:
        """Refuse (AuthenticationFailed) unless ``key`` is the presented one and may authenticate now."""
        if key is None or not key_matches(presented, key.hashed_key):
            raise exceptions.AuthenticationFailed(f"Unknown {self.noun}.")
        self.check_presented(key, presented_with)
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(f"This {self.noun} has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed(f"This {self.noun} has expired.")
        self.check_holder(key)

    def authenticate(self, request) -> tuple[Any, Any] | None:
        presented, presented_with = self.presented(request)
        if presented is None:
            return None
        prefix = self.prefix_of(presented)
        client = key_gate.redis_client()
        if client is not None:
            admitted = self._through_gate(client, request, prefix, presented, presented_with)
            if admitted is not None:
                return admitted
        # The embedded default's per-process cache, or Redis down: the row (or plain cache calls).
        key = self.load(prefix)
        now = timezone.now()
        self.verify(key, presented, presented_with, now)
        return self.accept(request, key, now)

    def _through_gate(
        self, client: Redis, request, prefix: str, presented: str, presented_with: Any
    ) -> tuple[Any, Any] | None:
        """DRF's (user, auth) through the gate: one round trip for a cached key, two for a key
        whose entry is rebuilt. Refuses (AuthenticationFailed) as ``verify`` does; None when the
        gate is unavailable (the caller authenticates without it). Bookkeeping that fails is
        logged and never fails the request."""
        clock = time.time()  # one reading for the expiry check and the rate window (DRF's timer)
        now = dt.datetime.fromtimestamp(clock, dt.UTC)
        call = key_gate.Call(
            kind=self.gate_kind,
            prefix=prefix,
            hashed=hash_key(presented),
            now=clock,
            touch_seconds=settings.SHOPFLOOR["API_KEY_TOUCH_SECONDS"],
            window=self.gate_window(request, prefix),
        )
        guess = self.gate_counters(request, prefix)
        try:
            gate = key_gate.pass_gate(client, call, counters=guess)
        except Exception:  # Redis is down
            self.log.warning("auth gate unavailable; authenticating the %s without it", self.noun, exc_info=True)
            return None
        key = gate.key
        self.verify(key, presented, presented_with, now)
        assert key is not None  # noqa: S101 - verify refused a missing key
        counters = self.gate_counters(request, prefix, key)
        try:
            if not gate.counted:
                key_gate.count(client, gate, call, counters=counters)
            if counters and gate.versions is not None and gate.versions[0] == counters:
                # The ETag's data versions, read in this round trip (tracker.api.conditional).
                request.data_versions = gate.versions
            self.gated_use(request, key, now, gate.flush)
        except Exception:  # bookkeeping must never fail the request it counts
            self.log.exception("recording the use of %s %s failed", self.noun.lower(), key.prefix)
        # ApiKeyRateThrottle reads the window's verdict instead of its own two cache calls.
        request.api_key_verdict = gate.verdict
        return self.principal(key)

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.realm}"'


def authorization(request) -> tuple[str, str]:
    """(scheme in lower case, credentials) of the Authorization header; empty strings when absent."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower(), value.strip()


class ApiKeyAuthentication(HashedKeyAuthentication):
    """Authenticates the key's owner; revoked, expired or unknown keys are 401."""

    kind = KEY_KIND
    noun = "API key"
    realm = "shopfloor"
    gate_kind = key_gate.PARTNER
    log = logger

    def presented(self, request) -> tuple[str | None, None]:
        scheme, value = authorization(request)
        if scheme in {"bearer", "api-key", "token"} and value.startswith(f"{KEY_KIND}_"):
            return value, None
        return request.headers.get("X-API-Key", "").strip() or None, None

    def load(self, prefix: str) -> ApiKey | None:
        return load_key(prefix)

    def gate_window(self, request, prefix: str) -> key_gate.Window | None:
        return _window(_view(request), prefix)

    def gate_counters(self, request, prefix: str, key: ApiKey | None = None) -> tuple[str, ...]:
        if not conditional.wants_etag(_view(request), request):
            return ()
        if key is None:
            return _counters_seen.get(prefix, ())
        try:
            return _counters(prefix, key)
        except Exception:  # the ETag then reads its versions itself; the use is still counted
            logger.warning("could not name the data versions of api key %s", key.prefix, exc_info=True)
            return ()

    def gated_use(self, request, key: ApiKey, now: dt.datetime, uses: int | None) -> None:
        _log_use(request, key)
        if uses is not None:
            _flush_uses(key, now, uses)

    def check_holder(self, key: ApiKey) -> None:
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's user is inactive.")

    def accept(self, request, key: ApiKey, now: dt.datetime) -> tuple[Any, ApiKey]:
        try:
            _record_use(request, key, now)
        except Exception:  # bookkeeping must never fail the request it counts
            logger.exception("recording the use of api key %s failed", key.prefix)
        return self.principal(key)

    def principal(self, key: ApiKey) -> tuple[Any, ApiKey]:
        user = key.user
        # restrict() reads api_key_site_ids (set by load_key) off the user: the key sees only its sites.
        user.api_key = key  # type: ignore[attr-defined]  # the request's key, on its user for the request
        return user, key
