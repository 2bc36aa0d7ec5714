"""Periodic checks: silent devices, low batteries, missing tags and uploads that
were stored but never processed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from devices import services, tasks
from devices.models import DeviceKind, ReaderUpload, TagState, UploadStatus
from devices.schedule import BEAT_SCHEDULE
from tests.factories.devices import (
    DeviceFactory,
    ReaderUploadFactory,
    TagAssignmentFactory,
    TagFactory,
    ZoneFactory,
)
from tracker.models import Alert

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def ago(**kw):
    return NOW - dt.timedelta(**kw)


def open_alerts(kind):
    return set(Alert.objects.filter(kind=kind, cleared_at__isnull=True).values_list("subject", flat=True))


def test_beat_schedule_names_real_tasks():
    from config.celery import app

    for entry in BEAT_SCHEDULE.values():
        name = entry["task"]
        assert name in app.tasks, name
    app.loader.import_default_modules()
    assert set(BEAT_SCHEDULE) <= set(app.conf.beat_schedule)


def test_readers_are_silent_after_ten_minutes_gateways_after_three_periods(site_a):
    DeviceFactory(site=site_a, device_id="R-QUIET", last_seen_at=ago(minutes=11))
    DeviceFactory(site=site_a, device_id="R-OK", last_seen_at=ago(minutes=9))
    DeviceFactory(
        site=site_a,
        device_id="GW-QUIET",
        kind=DeviceKind.BLE_GATEWAY,
        upload_format="minew_ble",
        upload_period_s=60,
        last_seen_at=ago(minutes=4),
    )
    DeviceFactory(
        site=site_a,
        device_id="GW-OK",
        kind=DeviceKind.BLE_GATEWAY,
        upload_format="minew_ble",
        upload_period_s=60,
        last_seen_at=ago(minutes=2),
    )
    DeviceFactory(site=site_a, device_id="NEVER-SEEN")  # not yet installed: no alarm
    DeviceFactory(site=site_a, device_id="OFF", active=False, last_seen_at=ago(days=3))
    assert services.devices_check_silent(now=NOW) == {"silent": 2}
    assert open_alerts("device.silent") == {"device:R-QUIET", "device:GW-QUIET"}
    assert services.devices_check_silent(now=NOW) == {"silent": 0}  # raised once
    assert Alert.objects.filter(kind="device.silent").count() == 2


def test_battery_low_with_hysteresis(site_a):
    tag = DeviceFactory(
        site=site_a, device_id="BEACON-1", kind=DeviceKind.TAG, upload_format="", battery_pct=Decimal(15)
    )
    tasks.check_battery_low()
    assert open_alerts("device.battery_low") == {"device:BEACON-1"}
    tag.battery_pct = Decimal(22)  # above the low mark, below the ok mark: stays raised
    tag.save()
    tasks.check_battery_low()
    assert open_alerts("device.battery_low") == {"device:BEACON-1"}
    tag.battery_pct = Decimal(90)  # a new battery
    tag.save()
    assert services.devices_check_battery()["cleared"] == 1
    assert open_alerts("device.battery_low") == set()


def test_tag_missing_only_when_its_reader_is_alive(site_a):
    zone = ZoneFactory(site=site_a, code="Z-M")
    alive = DeviceFactory(site=site_a, device_id="ALIVE", last_seen_at=ago(seconds=30))
    dead = DeviceFactory(site=site_a, device_id="DEAD", last_seen_at=ago(hours=2))

    def tag(tag_id, device, seen, assigned=True):
        t = TagFactory(site=site_a, tag_id=tag_id)
        if assigned:
            TagAssignmentFactory(tag=t)
        TagState.objects.create(
            tag=t, site=site_a, location=zone, since=ago(days=1), last_seen_at=seen, last_device=device
        )

    tag("T-GONE", alive, ago(minutes=20))
    tag("T-HERE", alive, ago(minutes=2))
    tag("T-READER-DOWN", dead, ago(hours=2))
    tag("T-UNASSIGNED", alive, ago(hours=1), assigned=False)
    assert services.tags_check_missing(now=NOW) == {"missing": 1}
    assert open_alerts("tag.missing") == {"tag:T-GONE"}
    assert TagState.objects.get(tag__tag_id="T-GONE").missing_since == NOW
    assert services.tags_check_missing(now=NOW) == {"missing": 0}


def test_stale_queued_uploads_are_enqueued_again(site_a):
    device = DeviceFactory(site=site_a)
    stale = ReaderUploadFactory(device=device, received_at=ago(minutes=5))
    fresh = ReaderUploadFactory(device=device, received_at=ago(seconds=10))
    done = ReaderUploadFactory(device=device, received_at=ago(minutes=5), status=UploadStatus.PROCESSED)
    with mock.patch("devices.tasks.process_reader_upload.delay") as delay:
        assert services.reader_uploads_requeue_stale(now=NOW) == 1
    delay.assert_called_once_with(stale.pk, stale.received_at.isoformat())
    assert fresh.pk != done.pk


def test_broker_down_leaves_the_upload_queued_and_the_sweep_processes_it(site_a):
    from devices.tests.helpers import example

    device = DeviceFactory(site=site_a)
    with mock.patch("devices.tasks.process_reader_upload.delay", side_effect=ConnectionError("broker down")):
        upload, _ = services.reader_upload_receive(device=device, body=example("zebra_iotc"))
        services._enqueue(upload.pk)  # what on_commit would call: it logs and carries on
    assert ReaderUpload.objects.get(pk=upload.pk).status == UploadStatus.QUEUED
    ReaderUpload.objects.filter(pk=upload.pk).update(received_at=ago(minutes=10))
    assert tasks.requeue_stale_uploads() == 1  # eager Celery: processed right here
    assert ReaderUpload.objects.get(pk=upload.pk).status == UploadStatus.PROCESSED


def test_an_upload_failing_every_time_is_rejected_after_the_attempts(site_a):
    device = DeviceFactory(site=site_a)
    upload = ReaderUploadFactory(device=device, body=b"[]", attempts=5, reason="RuntimeError: boom")
    services.reader_upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED
    assert "gave up after 5 failed attempts" in upload.reason and "boom" in upload.reason
