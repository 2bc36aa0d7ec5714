"""Writes of the webhooks app: emit into the outbox, deliver, disable, replay.

How other apps emit: call ``tracker.realtime.broadcast(site_id=, type=, data=)``
inside the business transaction with one of ``EVENT_TYPES``; broadcast hands
the event to ``webhook_emit`` (registered in ``WebhooksConfig.ready``), which
writes the outbox rows in that same transaction. Call ``webhook_emit`` directly
only for an event that must not be pushed to open pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
import time
from typing import Any

import httpx
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.cache import cache
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from tracker.audit import audit_record
from tracker.errors import Conflict, ValidationFailed
from tracker.models import Severity, Site
from tracker.transactions import service_atomic
from tracker.webhooks import signing, targets
from tracker.webhooks.conf import conf
from tracker.webhooks.events import EVENT_TYPES
from tracker.webhooks.models import (
    DUE_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

SUBSCRIPTIONS_CACHE_SECONDS = 300
ALERT_KIND_DISABLED = "webhook.endpoint_disabled"

#: Tests swap in an ``httpx.MockTransport``; None means real network.
http_transport: httpx.BaseTransport | None = None

_random = secrets.SystemRandom()


# --- Subscriptions -----------------------------------------------------------


def _subscriptions_key(site_id: int) -> str:
    return f"webhooks:subscribed-types:{site_id}"


def subscribed_types(site_id: int) -> frozenset[str]:
    """Event types some active endpoint of the site subscribes to (cached).

    The cache only answers "is anybody listening": the endpoints themselves are
    read fresh in the business transaction, so a stale entry costs one query,
    never a delivery to a deleted endpoint.
    """
    key = _subscriptions_key(site_id)
    try:
        types = cache.get(key)
    except Exception:  # cache down: ask the database rather than fail the business write
        logger.warning("webhooks: subscription cache unavailable", exc_info=True)
        types = None
    if types is None:
        types = set()
        for event_types in WebhookEndpoint.objects.filter(site_id=site_id, active=True).values_list(
            "event_types", flat=True
        ):
            types.update(event_types or ())
        try:
            cache.set(key, sorted(types), SUBSCRIPTIONS_CACHE_SECONDS)
        except Exception:
            logger.warning("webhooks: subscription cache unavailable", exc_info=True)
    return frozenset(types)


def subscriptions_changed(site_id: int) -> None:
    """Forget the cached subscriptions now and again after commit (a reader in
    between could have cached the pre-commit state)."""
    _forget(site_id)
    transaction.on_commit(functools.partial(_forget, site_id))


def _forget(site_id: int) -> None:
    try:
        cache.delete(_subscriptions_key(site_id))
    except Exception:  # the entry expires on its own (SUBSCRIPTIONS_CACHE_SECONDS)
        logger.warning("webhooks: could not clear the subscription cache", exc_info=True)


# --- Emit --------------------------------------------------------------------


def _iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def webhook_emit(
    *, site_id: int, type: str, data: dict[str, Any], occurred_at: dt.datetime | None = None
) -> WebhookEvent | None:
    """Record ``type`` for every active endpoint of the site subscribed to it.

    Guarantees: the event and its deliveries are written in the caller's
    transaction (they exist iff the business change committed); delivery is
    enqueued only after commit, and if enqueueing fails the beat sweeper
    delivers them later. Returns None (and writes nothing) when nobody listens.
    """
    if type not in EVENT_TYPES:
        raise ValidationFailed(f"Unknown webhook event type {type!r}.", field="type")
    if type not in subscribed_types(site_id):
        return None
    endpoint_ids = [
        e.pk
        for e in WebhookEndpoint.objects.filter(site_id=site_id, active=True).only("pk", "event_types")
        if type in (e.event_types or ())
    ]
    if not endpoint_ids:
        return None
    now = timezone.now()
    occurred = occurred_at or now
    site_code = Site.objects.filter(pk=site_id).values_list("code", flat=True).first()
    # Normalise (Decimals, datetimes, UUIDs) so the stored payload is what is signed and sent.
    payload = json.loads(
        json.dumps(
            {"type": type, "timestamp": _iso(occurred), "site": site_code, "data": data},
            cls=DjangoJSONEncoder,
        )
    )
    # No atomic on the whole function: with nobody listening it costs no query at all.
    with transaction.atomic():
        event = WebhookEvent.objects.create(site_id=site_id, type=type, payload=payload, created_at=now)
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint_id=pk, event=event, next_attempt_at=now) for pk in endpoint_ids]
        )
        transaction.on_commit(functools.partial(_enqueue, "drain_event", event.pk))
    return event


def webhook_emit_from_broadcast(
    *, site_id: int, type: str, data: dict[str, Any], occurred_at: dt.datetime | None = None
) -> None:
    """The ``broadcast()`` listener: page events that are also webhook events go to the outbox."""
    if type in EVENT_TYPES:
        webhook_emit(site_id=site_id, type=type, data=data, occurred_at=occurred_at)


def _enqueue(task_name: str, *args: Any) -> None:
    """Hand work to Celery; a broker outage only delays it (the sweeper drains the outbox)."""
    from tracker.webhooks import tasks

    try:
        getattr(tasks, task_name).delay(*args)
    except Exception:  # broker down: the rows are committed, the beat sweeper sends them
        message = f"{task_name}({', '.join(map(str, args))})"
        logger.warning("webhooks: could not enqueue %s; the sweeper will deliver it", message, exc_info=True)


# --- Deliver -----------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """Delay before retry number ``attempts`` (1-based): exponential, capped, jittered."""
    ceiling = min(conf("WEBHOOK_BACKOFF_MAX_SECONDS"), conf("WEBHOOK_BACKOFF_BASE_SECONDS") * 2 ** (attempts - 1))
    return _random.uniform(ceiling / 2, ceiling)


def delivery_message(delivery_id: int, created_at: dt.datetime | None) -> tuple[Any, ...]:
    """The arguments of the ``deliver`` task's message: the delivery's id and its partition key.

    The deliveries table is partitioned by ``created_at`` on PostgreSQL (a month a partition):
    a look-up by id alone probes every partition's index, one that also names ``created_at``
    reads one. ISO 8601, so the message stays JSON."""
    if created_at is None:
        return (delivery_id,)
    return (delivery_id, created_at.isoformat())


def _delivery_row(delivery_id: int, created_at: dt.datetime | None) -> QuerySet[WebhookDelivery]:
    """The filter that finds one delivery: by id and, when known, its partition key (pruned).
    ``created_at`` is set once, on insert, so a key taken from the row always names it."""
    if created_at is None:
        return WebhookDelivery.objects.filter(pk=delivery_id)
    return WebhookDelivery.objects.filter(pk=delivery_id, created_at=created_at)


def _claim(delivery_id: int, now: dt.datetime, created_at: dt.datetime | None = None) -> bool:
    """Take a due delivery for this worker: one conditional UPDATE, so two
    workers (or an event drain and the sweeper) never send it concurrently."""
    lease = now + dt.timedelta(seconds=conf("WEBHOOK_LEASE_SECONDS"))
    due = _delivery_row(delivery_id, created_at).filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
    return bool(due.update(next_attempt_at=lease))


def _body(event: WebhookEvent) -> bytes:
    return json.dumps({"id": event.pk, **event.payload}, separators=(",", ":")).encode()


def _post(endpoint: WebhookEndpoint, event: WebhookEvent) -> tuple[int | None, str, str, int]:
    """Send once: (status code or None, error, response excerpt, elapsed ms)."""
    started = time.monotonic()
    try:
        target = targets.check_target(endpoint.url)
    except targets.TargetRefused as exc:
        return None, exc.detail[:500], "", 0
    body = _body(event)
    headers = signing.headers(secret=endpoint.secret, msg_id=event.pk, timestamp=int(time.time()), body=body)
    headers["host"] = target.host_header
    headers["user-agent"] = "Shopfloor-Webhooks/1"
    url = httpx.URL(endpoint.url).copy_with(host=str(target.address))
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(
            transport=http_transport, timeout=conf("WEBHOOK_TIMEOUT_SECONDS"), follow_redirects=False
        ) as client:
            response = client.send(
                client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
            )
    except httpx.TimeoutException:
        return None, "timeout", "", int((time.monotonic() - started) * 1000)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], "", int((time.monotonic() - started) * 1000)
    elapsed = int((time.monotonic() - started) * 1000)
    error = "" if response.is_success else f"HTTP {response.status_code}"
    return response.status_code, error, response.text[:200], elapsed


def delivery_attempt(*, delivery_id: int, created_at: dt.datetime | None = None) -> WebhookDelivery | None:
    """Try one due delivery once and record the outcome.

    Returns None when the delivery is not due or another worker holds it. The
    HTTP call happens outside any transaction; the outcome (delivery, attempt
    log, endpoint health) is written in one.

    ``created_at`` (the delivery's partition key, from the task's message or the drain's
    scan) makes every statement on the deliveries table read one partition; without it
    (a message enqueued before messages carried it) the claim and the load find the row by
    id, and the rest use the loaded row's key. A key that named no delivery with this id
    would claim nothing: the delivery stays due and the sweeper sends it.
    """
    now = timezone.now()
    if not _claim(delivery_id, now, created_at):
        return None
    delivery = _delivery_row(delivery_id, created_at).select_related("endpoint", "event").get()
    endpoint = delivery.endpoint
    if not endpoint.active:
        _delivery_row(delivery.pk, delivery.created_at).update(
            status=DeliveryStatus.DEAD, next_attempt_at=None, last_error="endpoint disabled"
        )
        return delivery
    status_code, error, excerpt, elapsed = _post(endpoint, delivery.event)
    return _record_outcome(
        delivery=delivery, at=timezone.now(), status_code=status_code, error=error, excerpt=excerpt, elapsed_ms=elapsed
    )


@service_atomic
def _record_outcome(
    *, delivery: WebhookDelivery, at: dt.datetime, status_code: int | None, error: str, excerpt: str, elapsed_ms: int
) -> WebhookDelivery:
    endpoint = delivery.endpoint
    WebhookAttempt.objects.create(
        delivery=delivery, at=at, status_code=status_code, error=error, response_ms=elapsed_ms, response_excerpt=excerpt
    )
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": F("attempts") + 1,
        "last_attempt_at": at,
        "last_status_code": status_code,
        "last_error": error,
        "last_response_ms": elapsed_ms,
    }
    if not error:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=at, next_attempt_at=None)
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        logger.info("webhook %s delivered to endpoint %s in %d ms", delivery.event_id, endpoint.pk, elapsed_ms)
    else:
        logger.warning(
            "webhook %s to endpoint %s failed (attempt %d): %s", delivery.event_id, endpoint.pk, attempts, error
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=at)
        if attempts >= conf("WEBHOOK_MAX_ATTEMPTS"):
            fields.update(status=DeliveryStatus.DEAD, next_attempt_at=None)
        else:
            fields.update(
                status=DeliveryStatus.FAILED, next_attempt_at=at + dt.timedelta(seconds=backoff_seconds(attempts))
            )
    row = _delivery_row(delivery.pk, delivery.created_at)
    row.update(**fields)
    if error:
        endpoint.refresh_from_db(fields=["failing_since", "active"])
        # failing_since is set above unless a concurrent success has just cleared it.
        since = endpoint.failing_since
        if (
            endpoint.active
            and since is not None
            and since <= at - dt.timedelta(hours=conf("WEBHOOK_DISABLE_AFTER_HOURS"))
        ):
            webhook_endpoint_disable(endpoint=endpoint, reason=f"failing since {_iso(since)}: {error}")
    delivery.refresh_from_db(from_queryset=row)
    return delivery


def deliveries_drain(*, event_id: str | None = None, batch: int | None = None) -> int:
    """Send due deliveries (of one event, or all), oldest first; returns how many were tried.

    Within one drain an endpoint that fails is skipped for the rest of the
    batch, so a dead receiver costs one timeout per sweep, not one per event.
    """
    now = timezone.now()
    due = WebhookDelivery.objects.due(now)
    if event_id is not None:
        due = due.filter(event_id=event_id)
    rows = due.order_by("next_attempt_at", "pk").values_list("pk", "endpoint_id", "created_at")
    failing: set[int] = set()
    tried = 0
    for delivery_id, endpoint_id, created_at in list(rows[: batch or conf("WEBHOOK_SWEEP_BATCH")]):
        if endpoint_id in failing:
            continue
        delivery = delivery_attempt(delivery_id=delivery_id, created_at=created_at)
        if delivery is None:
            continue
        tried += 1
        if delivery.status != DeliveryStatus.SUCCEEDED:
            failing.add(endpoint_id)
    return tried


def webhooks_sweep() -> int:
    """The beat task's body: disable endpoints failing too long, then drain the outbox."""
    cutoff = timezone.now() - dt.timedelta(hours=conf("WEBHOOK_DISABLE_AFTER_HOURS"))
    for endpoint in WebhookEndpoint.objects.filter(active=True, failing_since__lte=cutoff).order_by("pk"):
        since = endpoint.failing_since
        if since is None:  # the filter excludes it; the check is for the type
            continue
        webhook_endpoint_disable(endpoint=endpoint, reason=f"failing since {_iso(since)}")
    return deliveries_drain()


# --- Endpoints ---------------------------------------------------------------


def _check_event_types(event_types: list[str]) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationFailed("Subscribe to at least one event type.", field="event_types")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(f"Unknown event types {unknown}; known: {list(EVENT_TYPES)}.", field="event_types")
    return sorted(set(event_types), key=EVENT_TYPES.index)


@service_atomic
def webhook_endpoint_create(
    *, owner: User, site: Site, url: str, event_types: list[str], description: str = ""
) -> WebhookEndpoint:
    """Subscribe ``url`` to the site's events; the URL must pass the target check now."""
    targets.check_target(url)
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, site=site, url=url, event_types=_check_event_types(event_types), description=description
    )
    audit_record(actor=owner, action="webhook.endpoint_created", obj=endpoint, site=site, changes={"url": url})
    subscriptions_changed(site.pk)
    return endpoint


@service_atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser, **changes: Any) -> WebhookEndpoint:
    """Change url, event types, description or ``active``; re-enabling clears the failure state."""
    allowed = {"url", "event_types", "description", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(f"Cannot change {sorted(unknown)}.")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "url" in changes:
        targets.check_target(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_event_types(changes["event_types"])
    if changes.get("active") and not endpoint.active:
        changes.update(disabled_reason="", failing_since=None)
        from tracker.services import alert_clear

        alert_clear(site=endpoint.site_id, kind=ALERT_KIND_DISABLED, subject=_alert_subject(endpoint))
    elif changes.get("active") is False and endpoint.active:
        changes["disabled_reason"] = f"disabled by {actor.get_username()}"
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    audit_record(
        actor=actor,
        action="webhook.endpoint_changed",
        obj=endpoint,
        site=endpoint.site,
        changes={k: v for k, v in changes.items() if k != "secret"},
    )
    subscriptions_changed(endpoint.site_id)
    return endpoint


@service_atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser) -> WebhookEndpoint:
    """Give the endpoint a new signing secret (returned once to the caller)."""
    endpoint.secret = signing.generate_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    audit_record(actor=actor, action="webhook.secret_rotated", obj=endpoint, site=endpoint.site)
    return endpoint


@service_atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser) -> None:
    site_id = endpoint.site_id
    audit_record(actor=actor, action="webhook.endpoint_deleted", obj=endpoint, site=endpoint.site)
    endpoint.delete()
    subscriptions_changed(site_id)


def _alert_subject(endpoint: WebhookEndpoint) -> str:
    return f"webhook-endpoint:{endpoint.pk}"


@service_atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> WebhookEndpoint:
    """Stop sending to an endpoint, give up its queued deliveries (they stay
    replayable) and tell its owner: a site alert and, after commit, an email."""
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("owner").get(pk=endpoint.pk)
    if not endpoint.active:
        return endpoint
    endpoint.active = False
    endpoint.disabled_reason = reason[:200]
    endpoint.save(update_fields=["active", "disabled_reason", "updated_at"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status__in=DUE_STATUSES).update(
        status=DeliveryStatus.DEAD, next_attempt_at=None, last_error="endpoint disabled"
    )
    subscriptions_changed(endpoint.site_id)
    owner = endpoint.owner
    message = f"Webhook endpoint {endpoint.url} (owner {owner.get_username()}) was disabled: {reason}"
    from tracker.services import alert_raise

    alert_raise(
        site=endpoint.site_id,
        kind=ALERT_KIND_DISABLED,
        subject=_alert_subject(endpoint),
        message=message,
        severity=Severity.WARNING,
        data={"endpoint": endpoint.pk, "owner": owner.pk, "url": endpoint.url},
    )
    audit_record(
        actor=None,
        action="webhook.endpoint_disabled",
        obj=endpoint,
        site=endpoint.site,
        changes={"reason": reason[:200]},
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    if owner.email:
        transaction.on_commit(
            functools.partial(
                send_mail, "Shopfloor: webhook endpoint disabled", message, None, [owner.email], fail_silently=True
            )
        )
    return endpoint


# --- Replay ------------------------------------------------------------------


@service_atomic
def delivery_replay(*, delivery: WebhookDelivery, actor: AbstractBaseUser | None) -> WebhookDelivery:
    """Queue a logged delivery to be sent again (same ``webhook-id``, fresh
    timestamp and signature). The endpoint must be active. After commit the ``deliver``
    task is enqueued with the delivery's partition key (``delivery_message``)."""
    row = _delivery_row(delivery.pk, delivery.created_at)
    delivery = row.select_for_update().select_related("endpoint").get()
    if not delivery.endpoint.active:
        raise Conflict("The endpoint is disabled; re-enable it before replaying.", code="endpoint_disabled")
    # A fresh retry budget; the attempt log keeps the history. (save() would update by id alone.)
    changes = {"status": DeliveryStatus.PENDING, "next_attempt_at": timezone.now(), "attempts": 0}
    row.update(**changes)
    for name, value in changes.items():
        setattr(delivery, name, value)
    audit_record(actor=actor, action="webhook.delivery_replayed", obj=delivery, site=delivery.endpoint.site)
    transaction.on_commit(functools.partial(_enqueue, "deliver", *delivery_message(delivery.pk, delivery.created_at)))
    return delivery
