"""Celery tasks: thin wrappers; the services own claiming, retries and logging."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from tracker.webhooks import services


@shared_task(name="webhooks.drain_event", ignore_result=True)
def drain_event(event_id: str) -> int:
    """Send an event's deliveries right after its transaction committed."""
    return services.deliveries_drain(event_id=event_id)


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver(delivery_id: int, created_at: str | None = None) -> None:
    """Send one delivery (a replay). The message is ``services.delivery_message``: the id and
    the delivery's partition key; a message with the id alone (an older release's) still works."""
    services.delivery_attempt(
        delivery_id=delivery_id, created_at=dt.datetime.fromisoformat(created_at) if created_at else None
    )


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> int:
    """Periodic: retries that are due, and anything queued while the broker was down."""
    return services.webhooks_sweep()
