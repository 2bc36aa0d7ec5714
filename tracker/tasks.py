"""Celery tasks of the core: thin wrappers around tracker services."""

from __future__ import annotations

from celery import shared_task

from tracker import services


@shared_task(name="tracker.idempotency_purge", ignore_result=True)
def idempotency_purge() -> int:
    """Periodic: forget Idempotency-Key answers older than IDEMPOTENCY_TTL_HOURS."""
    return services.idempotency_records_purge()


@shared_task(name="tracker.history_partitions_maintain", ignore_result=True)
def history_partitions_maintain() -> int:
    """Periodic: make history partitions ahead of time and expire old ones (PostgreSQL only)."""
    from tracker.partitioning import history_partitions_maintain as maintain

    return sum(1 for status in maintain() if status.partitioned)
