"""The hand-off from the upload endpoint to the ingest worker: a Redis list, drained.

Publishing a Celery task per upload cost the endpoint more CPU than storing the upload
(building the message, its headers and the kombu envelope: about 0.45 ms of the
endpoint's 2.9 ms, more than the no-op ping's budget). Here the endpoint, after its
transaction commits, makes one ``EVALSHA``: the upload's message is appended to a list,
and a drain task is published only when no drain is running (or the backlog outgrows the
running ones). A running drain takes messages from the list one at a time and processes
each with the same service the per-upload task calls; when the list stays empty for
``LINGER_S`` it stops. Under a steady stream of uploads a drain keeps running, so the
endpoint publishes almost no tasks; after a quiet spell the first upload publishes one,
as before.

What still holds, and how:

* **Processed once.** ``reader_upload_process`` checks the upload's status under a row
  lock, so a message handled twice (a redelivered drain, the sweeper) changes nothing.
* **Not lost when a worker dies.** A drain moves each message into its own in-flight
  list (``LMOVE``, atomic) before processing it and drops it after. The drain task acks
  late and is rejected when its worker is lost, so Celery delivers it again with the same
  task id, and the new run first processes what its in-flight list still holds. If the
  drain task itself is lost (the broker down when it was published), the uploads stay
  ``queued`` and the periodic sweeper enqueues them one by one
  (``reader_uploads_requeue_stale``), exactly as for a lost per-upload task.
* **Never stranded.** The drain count and the list change together in Lua scripts: an
  upload is appended and the count read in one step, and a drain that finds the list
  empty leaves the count in the same step, so an upload is always either taken by a
  running drain or publishes a new one. The count expires ``SLOT_TTL_MS`` after the last
  drain activity, so a drain that vanished without leaving frees its slot.
* **Failures keep their meaning.** A database error hands the upload to the per-upload
  task, which retries it with back-off; any other error is noted on the upload (the admin
  sees why it waits) and the sweeper tries again later, up to the attempt limit.

The list is on the broker's Redis (``broker_client``), with the cache's key prefix.
Without a Redis broker (the embedded default) or with eager Celery (tests, the demo's simulated
readers) the endpoint publishes the per-upload task, which then runs in-process.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from tracker.cache_keys import stored_key
from tracker.redis_scripts import lua

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)

#: A drain stops after this many seconds without a message (its worker slot is then free).
LINGER_S = 1.0
#: ... and publishes its successor after this many uploads or seconds, so one task never
#: holds a worker for ever and a redelivery never replays more than a bounded batch.
BATCH_UPLOADS = 500
BATCH_SECONDS = 60.0
#: The drain count expires this long after the last drain activity (a drain that died).
SLOT_TTL_MS = 120_000
#: A drain's in-flight list outlives a lost drain task this long; the sweeper covers the rest.
IN_FLIGHT_TTL_S = 86_400

# KEYS: 1 pending list, 2 drain count. ARGV: 1 message, 2 slot TTL ms, 3 most drains,
# 4 backlog per drain before another starts. Returns 1 when the caller must publish a drain.
PUSH = """
local waiting = redis.call('RPUSH', KEYS[1], ARGV[1])
local drains = tonumber(redis.call('GET', KEYS[2]) or '0')
if drains == 0 or (drains < tonumber(ARGV[3]) and waiting > drains * tonumber(ARGV[4])) then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS: 1 pending list, 2 drain count, 3 the drain's in-flight list. ARGV: 1 slot TTL ms,
# 2 in-flight TTL s, 3 '1' to leave when the list is empty. Returns the message moved to
# the in-flight list, or false (and, when asked, the drain has left the count).
TAKE = """
local message = redis.call('LMOVE', KEYS[1], KEYS[3], 'LEFT', 'RIGHT')
if message then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  return message
end
if ARGV[3] == '1' then
  local drains = tonumber(redis.call('GET', KEYS[2]) or '0')
  if drains <= 1 then redis.call('DEL', KEYS[2]) else redis.call('DECR', KEYS[2]) end
end
return false
"""

# KEYS: 1 drain count. Leave the count (a drain that was published but will not run).
LEAVE = """
local drains = tonumber(redis.call('GET', KEYS[1]) or '0')
if drains <= 1 then redis.call('DEL', KEYS[1]) else redis.call('DECR', KEYS[1]) end
return drains
"""


def pending_key() -> str:
    return stored_key("devices:uploads:pending")


def drains_key() -> str:
    return stored_key("devices:uploads:drains")


def in_flight_key(drain_id: str) -> str:
    return stored_key(f"devices:uploads:in-flight:{drain_id}")


def encode(upload_id: int, received_at: dt.datetime | None) -> str:
    return f"{upload_id}|{received_at.isoformat() if received_at else ''}"


def decode(message: bytes | str) -> tuple[int, dt.datetime | None]:
    text = message.decode() if isinstance(message, bytes) else message
    pk, _, when = text.partition("|")
    return int(pk), (dt.datetime.fromisoformat(when) if when else None)


_clients: dict[tuple[int, str], Redis] = {}


def broker_client() -> Redis | None:
    """The Celery broker's Redis (the list lives next to the drain task it feeds), or None
    when the broker is not Redis (the embedded default's in-memory broker)."""
    from redis import Redis

    from config.celery import app

    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _clients.get((os.getpid(), url))
    if client is None:
        client = _clients[(os.getpid(), url)] = Redis.from_url(url)
    return client


def _queue_client() -> Redis | None:
    """Redis when uploads go through the list: a Redis broker and a Celery that publishes."""
    from config.celery import app

    if app.conf.task_always_eager:
        return None
    return broker_client()


def hand_off(upload_id: int, received_at: dt.datetime | None) -> None:
    """Hand a committed upload to the ingest worker (called on commit by the endpoint).

    One Redis round trip in the common case (a drain is running); a drain task is
    published only when none runs or the backlog outgrows them. Never raises: if Redis
    or the broker is down the upload stays ``queued`` for the sweeper, as before."""
    from devices.services import _enqueue

    client = _queue_client()
    if client is None:
        _enqueue(upload_id, received_at)
        return
    try:
        start = lua(client, PUSH)(
            keys=[pending_key(), drains_key()],
            args=[encode(upload_id, received_at), SLOT_TTL_MS, _most_drains(), _backlog_per_drain()],
        )
    except Exception:  # Redis is down: the sweeper enqueues the upload when it is back
        logger.exception("could not hand upload %s to the ingest worker; it stays queued", upload_id)
        return
    if start:
        _publish_drain(client)


def _most_drains() -> int:
    return int(settings.UPLOAD_DRAINS_MAX)


def _backlog_per_drain() -> int:
    return int(settings.UPLOAD_DRAIN_BACKLOG)


def _publish_drain(client: Redis, countdown: float | None = None) -> None:
    """Publish a drain task for a slot already counted; give the slot back if that fails."""
    from devices.tasks import drain_reader_uploads

    try:
        if countdown:
            drain_reader_uploads.apply_async(countdown=countdown)
        else:
            drain_reader_uploads.delay()
    except Exception:
        logger.exception("could not publish an upload drain; the sweeper picks the uploads up")
        try:
            lua(client, LEAVE)(keys=[drains_key()])
        except Exception:
            logger.exception("could not give the drain's slot back; it expires by itself")


def drain(*, drain_id: str, linger_s: float = LINGER_S) -> dict[str, int]:
    """Process handed-off uploads until the list stays empty for ``linger_s`` (the drain task).

    Guarantees: each message is moved to this drain's in-flight list before it is
    processed and dropped after, so a drain delivered again (same ``drain_id``) first
    finishes what it held; every upload is processed by ``reader_upload_process`` (once,
    whatever the repeats); the drain count is left exactly once: when the list is empty,
    or by the successor this drain publishes (after a batch, or a pause for the database)."""
    from devices import services

    client = broker_client()
    counts = {"processed": 0, "failed": 0, "retried": 0}
    if client is None:
        return counts
    in_flight = in_flight_key(drain_id)
    take = lua(client, TAKE)
    keys = [pending_key(), drains_key(), in_flight]
    held: list[Any] = list(client.lrange(in_flight, 0, -1))  # a redelivered drain: what it held
    started = time.monotonic()
    while True:
        if held:
            message: Any = held.pop(0)
        elif counts["processed"] + counts["failed"] >= BATCH_UPLOADS or time.monotonic() - started > BATCH_SECONDS:
            _publish_drain(client)  # the successor takes this drain's slot
            return counts
        else:
            message = take(keys=keys, args=[SLOT_TTL_MS, IN_FLIGHT_TTL_S, "0"])
            if message is None:
                message = _wait(client, in_flight, linger_s)
            if message is None:
                # Take-or-leave in one step: an upload appended since is taken here, or
                # it found this drain gone from the count and published a new one.
                message = take(keys=keys, args=[SLOT_TTL_MS, IN_FLIGHT_TTL_S, "1"])
                if message is None:
                    return counts
        database_ok = _process_one(services, message, counts)
        client.lrem(in_flight, 1, message)  # processed, noted, or handed to the retrying task
        if not database_ok:
            _publish_drain(client, countdown=5)  # the database is failing: pause, keep the slot
            return counts


def _wait(client: Redis, in_flight: str, linger_s: float) -> bytes | None:
    """Block up to ``linger_s`` for the next message, moving it in flight as ``TAKE`` does."""
    # redis-py's stubs say int; the server takes a float timeout (Redis >= 6)
    message: Any = client.blmove(pending_key(), in_flight, linger_s, "LEFT", "RIGHT")  # type: ignore[arg-type]
    if message is not None:
        with client.pipeline(transaction=False) as pipe:
            pipe.pexpire(drains_key(), SLOT_TTL_MS)
            pipe.expire(in_flight, IN_FLIGHT_TTL_S)
            pipe.execute()
    return bytes(message) if message is not None else None


def _process_one(services: Any, message: Any, counts: dict[str, int]) -> bool:
    """Process one message; False when the database failed (the upload went to the retrying task)."""
    upload_id, received_at = decode(message)
    try:
        services.reader_upload_process(upload_id=upload_id, received_at=received_at)
    except (OperationalError, InterfaceError) as exc:
        counts["retried"] += 1
        try:
            services.reader_upload_note_failure(upload_id=upload_id, received_at=received_at, error=_reason(exc))
        except (OperationalError, InterfaceError):
            pass  # the database is gone; the drain stops and Celery closes the connection after the task
        services._enqueue(upload_id, received_at)  # the per-upload task retries with back-off
        return False
    except Exception as exc:
        counts["failed"] += 1
        logger.exception("upload %s failed; the sweeper tries it again later", upload_id)
        services.reader_upload_note_failure(upload_id=upload_id, received_at=received_at, error=_reason(exc))
        return True
    counts["processed"] += 1
    return True


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
