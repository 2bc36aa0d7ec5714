"""Idempotency-Key records are kept for IDEMPOTENCY_TTL_HOURS, then purged by beat."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tracker import services
from tracker.models import IdempotencyRecord
from tracker.schedule import BEAT_SCHEDULE
from tracker.tasks import idempotency_purge

pytestmark = pytest.mark.django_db


def _record(key: str, age: dt.timedelta) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(
        owner="user:1", key=key, method="POST", path="/api/v1/x/", request_hash="h", status_code=201
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_records_older_than_the_ttl_are_purged_and_younger_ones_kept(settings):
    settings.SHOPFLOOR = {**settings.SHOPFLOOR, "IDEMPOTENCY_TTL_HOURS": 48}
    _record("old", dt.timedelta(hours=49))
    _record("young", dt.timedelta(hours=47))
    assert services.idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]


def test_purge_works_in_batches(settings):
    settings.SHOPFLOOR = {**settings.SHOPFLOOR, "IDEMPOTENCY_TTL_HOURS": 1}
    for n in range(7):
        _record(f"k{n}", dt.timedelta(hours=2))
    assert services.idempotency_records_purge(batch=3) == 7
    assert not IdempotencyRecord.objects.exists()


def test_the_purge_is_a_beat_task():
    assert BEAT_SCHEDULE["idempotency-purge"]["task"] == idempotency_purge.name
    assert idempotency_purge.delay() is not None
