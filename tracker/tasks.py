"""Celery tasks of the core: thin wrappers around tracker services."""

from __future__ import annotations

from celery import shared_task

from tracker import services


@shared_task(name="tracker.idempotency_purge", ignore_result=True)
def idempotency_purge() -> int:
    """Periodic: forget Idempotency-Key answers older than IDEMPOTENCY_TTL_HOURS."""
    return services.idempotency_records_purge()
