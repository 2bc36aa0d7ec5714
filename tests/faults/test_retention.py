"""Data kept: raw uploads past UPLOAD_RETENTION_DAYS are archived per UTC day
(gzip JSON lines) or deleted, a day restores with its ids, and the ledger, the
audit trail and uploads still waiting for the pipeline are never touched."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from devices.models import ReaderUpload, SensorSample, UploadStatus
from devices.retention import cutoff, day_file, uploads_archive, uploads_restore
from devices.schedule import BEAT_SCHEDULE
from inventory.models import StockMove
from tests.factories.devices import DeviceFactory, ReaderUploadFactory
from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import LocationFactory
from tracker.models import AuditEvent

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 20, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def folder(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_DIR = str(tmp_path / "archive")
    settings.UPLOAD_RETENTION_DAYS = 30
    return tmp_path / "archive"


@pytest.fixture
def world(site_a):
    device = DeviceFactory(site=site_a, device_id="RET-1")
    at = lambda days, hour=12: NOW - dt.timedelta(days=days) + dt.timedelta(hours=hour - 1)  # noqa: E731
    ups = {
        "old1": ReaderUploadFactory(
            device=device,
            received_at=at(40),
            status=UploadStatus.PROCESSED,
            body=b'{"a": 1}\x00\xff',
            result={"moves": 2},
            processed_at=at(40),
        ),
        "old1b": ReaderUploadFactory(
            device=device, received_at=at(40, 23), status=UploadStatus.REJECTED, reason="bad json at 1:1"
        ),
        "old2": ReaderUploadFactory(device=device, received_at=at(35), status=UploadStatus.PROCESSED),
        "old_queued": ReaderUploadFactory(device=device, received_at=at(45), status=UploadStatus.QUEUED),
        "recent": ReaderUploadFactory(device=device, received_at=at(3), status=UploadStatus.PROCESSED),
    }
    SensorSample.objects.create(
        site=site_a, device=device, sensor_id="s", metric="temperature", value=4, observed_at=at(40), upload=ups["old1"]
    )
    receive(ItemFactory(sku="RET-ITEM"), LocationFactory(site=site_a, code="RET-BIN"), 5)
    AuditEvent.objects.create(action="test.kept", site=site_a)
    return device, ups


def _ledger_and_audit():
    return (
        StockMove.objects.count(),
        AuditEvent.objects.count(),
        list(StockMove.objects.order_by("pk").values_list("pk", "quantity")),
    )


def test_cutoff_is_the_start_of_a_utc_day():
    assert cutoff(days=30, now=NOW) == dt.datetime(2026, 2, 18, tzinfo=dt.UTC)


def test_archive_writes_one_file_per_day_deletes_only_finished_uploads_and_keeps_the_ledger(world, folder):
    device, ups = world
    kept = _ledger_and_audit()
    summary = uploads_archive(now=NOW)
    assert summary["archived"] == summary["deleted"] == 3
    assert sorted(summary["days"]) == [
        ups["old1"].received_at.date().isoformat(),
        ups["old2"].received_at.date().isoformat(),
    ]
    left = set(ReaderUpload.objects.values_list("pk", flat=True))
    assert left == {ups["old_queued"].pk, ups["recent"].pk}  # queued stays however old
    assert _ledger_and_audit() == kept
    assert SensorSample.objects.get().upload is None  # the sample (data) stays, only its link goes
    rows = [json.loads(line) for line in gzip.open(day_file(ups["old1"].received_at.date(), folder), "rt")]
    assert [r["id"] for r in rows] == [ups["old1"].pk, ups["old1b"].pk]
    assert rows[1]["reason"] == "bad json at 1:1" and rows[0]["device"] == "RET-1"
    # archiving again finds nothing to do and leaves the files as they are
    assert uploads_archive(now=NOW)["deleted"] == 0
    assert len(list(folder.iterdir())) == 2


def test_restore_a_day_puts_back_the_same_rows_once(world, folder):
    device, ups = world
    before = {
        u.pk: (u.upload_key, bytes(u.body), u.status, u.reason, u.result, u.received_at, u.attempts)
        for u in ReaderUpload.objects.filter(pk__in=[ups["old1"].pk, ups["old1b"].pk])
    }
    uploads_archive(now=NOW)
    day = ups["old1"].received_at.date()
    assert uploads_restore(day=day) == {"restored": 2, "present": 0, "skipped": 0}
    after = {
        u.pk: (u.upload_key, bytes(u.body), u.status, u.reason, u.result, u.received_at, u.attempts)
        for u in ReaderUpload.objects.filter(pk__in=before)
    }
    assert after == before
    assert uploads_restore(day=day) == {"restored": 0, "present": 2, "skipped": 0}
    # archived again later: merged by id into the same file, no duplicate line
    uploads_archive(now=NOW)
    rows = [json.loads(line) for line in gzip.open(day_file(day, folder), "rt")]
    assert sorted(r["id"] for r in rows) == sorted(before)


def test_an_upload_finished_late_is_merged_into_its_days_file(world, folder):
    device, ups = world
    uploads_archive(now=NOW)
    late = ReaderUploadFactory(
        device=device, received_at=ups["old1"].received_at + dt.timedelta(minutes=5), status=UploadStatus.PROCESSED
    )
    assert uploads_archive(now=NOW)["archived"] == 1
    rows = [json.loads(line) for line in gzip.open(day_file(late.received_at.date(), folder), "rt")]
    assert sorted(r["id"] for r in rows) == sorted([ups["old1"].pk, ups["old1b"].pk, late.pk])


def test_delete_mode_writes_no_file(world, folder):
    kept = _ledger_and_audit()
    summary = uploads_archive(now=NOW, delete_only=True)
    assert summary["deleted"] == 3 and summary["archived"] == 0
    assert not folder.exists()
    assert _ledger_and_audit() == kept


def test_commands(world, folder, capsys, monkeypatch):
    device, ups = world
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    call_command("archive_uploads")
    assert "archived 3 uploads" in capsys.readouterr().out
    day = ups["old2"].received_at.date().isoformat()
    call_command("restore_uploads", "--day", day)
    assert "restored 1 uploads" in capsys.readouterr().out
    assert ReaderUpload.objects.filter(pk=ups["old2"].pk, status=UploadStatus.PROCESSED).exists()
    with pytest.raises(CommandError, match="No archive"):
        call_command("restore_uploads", "--day", "2001-01-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("restore_uploads", "--day", "yesterday")
    call_command("archive_uploads", "--delete", "--days", "1")
    assert "deleted 2 uploads" in capsys.readouterr().out  # old2 again and the recent one
    assert list(ReaderUpload.objects.values_list("pk", flat=True)) == [ups["old_queued"].pk]


def test_nightly_beat_entry_and_task(world, folder, monkeypatch):
    from devices.tasks import archive_uploads

    entry = BEAT_SCHEDULE["devices.archive_uploads"]
    assert entry["task"] == "devices.tasks.archive_uploads"
    assert entry["schedule"].hour == {2}
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    assert archive_uploads.delay().get()["deleted"] == 3
