"""A partner request's Redis work in one round trip: the auth cache, use counting, the rate limit.

Without it a key-authenticated request made six round trips to Redis (the
auth epoch and the key's entry; the use counter, twice; the touch marker; the
rate window, read and written), about a third of the CPU of the no-op ping.
Here one Lua script (``EVALSHA``, atomic on the server) does all of it:

1. reads the auth epoch and the key's entry (a Redis hash: the epoch it was
   built under, the key's SHA-256, its expiry, whether it may authenticate at
   all, and the pickled key with its user ready to authorise);
2. only when the entry is current (its epoch is the epoch), the presented
   key's hash is the entry's and the key is valid and unexpired: counts the
   use, sets the touch marker (``SET NX EX``; the request that sets it flushes
   the count to the row, taking it with ``GETSET`` so two workers never
   subtract the same uses) and applies the sliding-window rate limit exactly
   as DRF's ``SimpleRateThrottle`` does (a list of request times, newest
   first; times older than the window dropped; refused when full);
3. for a list or detail answered with an ETag, reads the data version
   counters (``tracker.versions``) its answer depends on, named as KEYS: the
   ones this process saw the key need last time, used only when they are
   still the ones the (possibly rebuilt) entry needs
   (``tracker.api.authentication``).

Everything that decides whether a request is let in is still checked in
Python on the returned key (``HashedKeyAuthentication``); the script's checks
only decide whether to count. A stale or missing entry (a key, user, group or
grant changed: the epoch moved) is rebuilt from the database, stored, and the
use counted with a second call (``mode=count``), so a revoked key is refused
on the next request on every web node, as before.

The embedded default (LocMemCache) keeps the plain cache calls of
``tracker.api.key_cache`` and ``authentication._record_use``: there a round
trip costs nothing.

Both kinds of key go through the gate by the same calls
(``HashedKeyAuthentication.authenticate``). Device keys
(``devices.api.authentication``) are a ``KeyKind`` of their own: their entries are stamped with their own epoch (bumped
by changes to device keys and devices, not by every partner's grants) and built
from their own table; they have no rate window, and a flush only touches the
key's ``last_used_at``.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from tracker.api import key_cache
from tracker.cache_keys import stored_key
from tracker.models import ApiKey
from tracker.redis_scripts import lua

if TYPE_CHECKING:
    from redis import Redis

# KEYS: 1 auth epoch, 2 key entry (hash), 3 use counter, 4 touch marker, 5 rate window (list),
#       6... data version counters to read (tracker.versions; none when the answer has no ETag)
# ARGV: 1 mode ("check": read the entry, count when valid; "count": count only),
#       2 the presented key's SHA-256, 3 now (unix seconds), 4 touch seconds,
#       5 requests per window (0: no rate limit), 6 window seconds,
#       7 now (unix nanoseconds: where a missing version counter starts, as tracker.versions does)
# Returns {epoch, pickled key or false, counted 0/1, uses to flush or false, allowed 0/1,
#          requests in the window, oldest time in the window or false, the versions or false}.
LUA = """
local epoch = false
local entry = false
if ARGV[1] == 'check' then
  epoch = redis.call('GET', KEYS[1])
  local f = redis.call('HMGET', KEYS[2], 'e', 'h', 'x', 'v', 'p')
  if not epoch or f[1] ~= epoch then
    return {epoch, false, 0, false, 1, 0, false}
  end
  entry = f[5]
  if f[2] ~= ARGV[2] or f[4] ~= '1' or (f[3] ~= '' and tonumber(f[3]) <= tonumber(ARGV[3])) then
    return {epoch, entry, 0, false, 1, 0, false}
  end
end
redis.call('INCR', KEYS[3])
local flush = false
if redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then
  flush = redis.call('GETSET', KEYS[3], '0')
end
local allowed = 1
local n = 0
local oldest = false
local limit = tonumber(ARGV[5])
if limit > 0 then
  local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[6])
  while true do
    local last = redis.call('LINDEX', KEYS[5], -1)
    if not last or tonumber(last) > cutoff then break end
    redis.call('RPOP', KEYS[5])
  end
  n = redis.call('LLEN', KEYS[5])
  if n >= limit then
    allowed = 0
    oldest = redis.call('LINDEX', KEYS[5], -1)
  else
    redis.call('LPUSH', KEYS[5], ARGV[3])
    redis.call('EXPIRE', KEYS[5], ARGV[6])
  end
end
local versions = false
if #KEYS > 5 then
  versions = {}
  for i = 6, #KEYS do
    redis.call('SET', KEYS[i], ARGV[7], 'NX')
    versions[#versions + 1] = redis.call('GET', KEYS[i])
  end
end
return {epoch, entry, 1, flush, allowed, n, oldest, versions}
"""


@dataclass(frozen=True)
class KeyKind:
    """One kind of hashed key the gate serves: what names its Redis keys, the epoch that
    invalidates its entries, how an entry is built and whether a key may authenticate."""

    name: str  # in the Redis keys: ``auth:<name>:<prefix>:gate``, ``<name>:uses:<prefix>``
    epoch_key: str  # a cache key (``key_cache.bump_epoch(epoch_key)`` invalidates every entry)
    build: Callable[[str], Any]  # the row with this prefix, its holder loaded; None if unknown
    valid: Callable[[Any], bool]  # not revoked and its holder active (expiry is checked apart)


def _partner_valid(key: ApiKey) -> bool:
    return key.revoked_at is None and key.user.is_active


PARTNER = KeyKind(name="apikey", epoch_key=key_cache.EPOCH_KEY, build=key_cache._build, valid=_partner_valid)


@dataclass(frozen=True)
class Window:
    """The rate limit a request is counted against (DRF's ``num_requests`` per ``duration`` s)."""

    cache_key: str
    limit: int
    duration: int


@dataclass(frozen=True)
class Call:
    """What one request asks of the gate: the key of this kind with this prefix, presented
    with this SHA-256, at ``now`` (unix seconds: the expiry check's and the rate window's
    clock), its use flushed to its row at most every ``touch_seconds``, counted against
    ``window`` (None: no rate limit)."""

    kind: KeyKind
    prefix: str
    hashed: str
    now: float
    touch_seconds: int
    window: Window | None = None


@dataclass(frozen=True)
class Verdict:
    """What the script decided about the rate window (read by ``ApiKeyRateThrottle``)."""

    cache_key: str
    allowed: bool
    count: int
    oldest: float | None
    now: float


@dataclass
class Gate:
    """One pass through the gate: the key (None when unknown) and what was counted."""

    key: Any  # the kind's key row (an ApiKey for partners), None when unknown
    counted: bool = False
    flush: int | None = None
    verdict: Verdict | None = None
    #: (the version counters read, their values) when the caller named counters and the use was counted
    versions: tuple[tuple[str, ...], list[int]] | None = None


def redis_client() -> Redis | None:
    """The shared Redis client behind the default cache, or None when the cache is not Redis."""
    backend = caches["default"]  # not ``cache``: a proxy, which isinstance cannot see through
    if not isinstance(backend, RedisCache):
        return None
    client: Redis = backend._cache.get_client(write=True)  # Django's private client
    return client


def entry_key(prefix: str, kind: KeyKind = PARTNER) -> str:
    return stored_key(f"auth:{kind.name}:{prefix}:gate")


def uses_key(prefix: str, kind: KeyKind = PARTNER) -> str:
    """The cache key counting a key's uses not yet written to its row (also the generic path's)."""
    return f"{kind.name}:uses:{prefix}"


def touch_key(prefix: str, kind: KeyKind = PARTNER) -> str:
    """The marker set by the request that flushes the count (one per key per touch interval)."""
    return f"{uses_key(prefix, kind)}:touched"


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _call(client: Redis, call: Call, *, mode: str, counters: tuple[str, ...]) -> list[Any]:
    keys = [
        stored_key(call.kind.epoch_key),
        entry_key(call.prefix, call.kind),
        stored_key(uses_key(call.prefix, call.kind)),
        stored_key(touch_key(call.prefix, call.kind)),
        stored_key(call.window.cache_key) if call.window else "",
        *(stored_key(name) for name in counters),
    ]
    args: list[str | int] = [
        mode,
        call.hashed,
        repr(call.now),
        max(call.touch_seconds, 1),
        call.window.limit if call.window else 0,
        call.window.duration if call.window else 0,
        time.time_ns(),
    ]
    result: list[Any] = lua(client, LUA)(keys=keys, args=args, client=client)
    return result


def _counted(result: list[Any], gate: Gate, call: Call, counters: tuple[str, ...]) -> None:
    gate.counted = bool(result[2])
    if not gate.counted:
        return
    flush = _text(result[3])
    gate.flush = int(flush) if flush is not None else None
    values = result[7] if len(result) > 7 else None
    if counters and isinstance(values, list) and len(values) == len(counters):
        gate.versions = (counters, [int(v or 0) for v in values])
    if call.window is not None:
        oldest = _text(result[6])
        gate.verdict = Verdict(
            cache_key=call.window.cache_key,
            allowed=bool(result[4]),
            count=int(result[5]),
            oldest=float(oldest) if oldest is not None else None,
            now=call.now,
        )


def _store(client: Redis, prefix: str, epoch: int, key: Any, kind: KeyKind) -> None:
    """Keep the entry (an unknown prefix too, as ``key_cache`` does, so guessing costs no query)."""
    valid = key is not None and kind.valid(key)
    expiry = "" if key is None or key.expires_at is None else repr(key.expires_at.timestamp())
    name = entry_key(prefix, kind)
    pipe = client.pipeline(transaction=False)
    pipe.hset(
        name,
        mapping={
            "e": str(epoch),
            "h": key.hashed_key if key is not None else "",
            "x": expiry,
            "v": "1" if valid else "0",
            "p": pickle.dumps(key, pickle.HIGHEST_PROTOCOL),
        },
    )
    pipe.expire(name, key_cache.ENTRY_TTL)
    pipe.execute()


def pass_gate(client: Redis, call: Call, *, counters: tuple[str, ...] = ()) -> Gate:
    """The key with ``call.prefix`` (None if unknown) and, when its entry is current, matches
    ``call.hashed`` and may authenticate, its use counted and its rate window applied, in one
    round trip. A stale or missing entry is rebuilt from the database and stored (one
    more round trip); the caller counts the use with ``count`` once its checks pass.

    ``counters`` (``tracker.versions`` names) are read in the same round trip when the use is
    counted (``Gate.versions``); the caller checks they are the ones the key's answer needs."""
    result = _call(client, call, mode="check", counters=counters)
    epoch_text, pickled = _text(result[0]), result[1]
    if pickled:
        gate = Gate(key=pickle.loads(pickled))  # noqa: S301 - written by _store below
        _counted(result, gate, call, counters)
        return gate
    # Read before the database (as key_cache does): an entry built from rows a concurrent
    # change is replacing carries the old epoch and is rebuilt on the next request.
    kind = call.kind
    epoch = int(epoch_text) if epoch_text is not None else key_cache._current_epoch(kind.epoch_key)
    key = kind.build(call.prefix)
    _store(client, call.prefix, epoch, key, kind)
    return Gate(key=key)


def count(client: Redis, gate: Gate, call: Call, *, counters: tuple[str, ...] = ()) -> None:
    """Count the use of a key that passed the checks but that ``pass_gate`` did not count
    (reading ``counters`` alike)."""
    _counted(_call(client, call, mode="count", counters=counters), gate, call, counters)
