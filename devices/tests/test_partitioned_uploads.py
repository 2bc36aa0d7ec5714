"""Uploads on daily partitions (PostgreSQL + pg_partman): the one-upload-per-key rule is a
unique index per day's partition, and the service's look-up finds a retry of an upload
stored on an earlier day, so a retry is still recognised across partitions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from devices import services
from devices.models import ReaderUpload
from tests.factories.devices import DeviceFactory

pytestmark = pytest.mark.django_db


def test_a_retry_on_a_later_day_returns_the_upload_stored_on_the_first(site_a):
    device = DeviceFactory(site=site_a)
    first, created = services.reader_upload_receive(device=device, body=b"{}", upload_key="batch-1")
    assert created
    yesterday = timezone.now() - dt.timedelta(days=1)
    ReaderUpload.objects.filter(pk=first.pk).update(received_at=yesterday)  # into yesterday's partition

    again, created = services.reader_upload_receive(device=device, body=b"{}", upload_key="batch-1")

    assert (again.pk, created) == (first.pk, False)
    assert ReaderUpload.objects.filter(device=device).count() == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT tableoid::regclass::text FROM devices_readerupload WHERE id = %s", [first.pk])
            (partition,) = cursor.fetchone()
        assert partition in (f"devices_readerupload_{yesterday:p%Y_%m_%d}", "devices_readerupload")
