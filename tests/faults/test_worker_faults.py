"""A worker killed (SIGKILL) in the middle of an upload, and a task whose database
connection is terminated in the middle (pg_terminate_backend): the retry
produces the same effects, once. Real worker subprocesses on a private Redis."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from devices import services
from devices.models import ReaderUpload, UploadStatus
from devices.tasks import process_reader_upload
from tests.faults.conftest import wait_for
from tests.faults.pipeline_world import bodies, clean_snapshot, make_world, snapshot

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _store(reader, prefix: int) -> list[int]:
    ids = []
    for body in bodies(prefix, 2):
        with mock.patch("devices.upload_queue.hand_off"):  # the test decides when tasks are sent
            upload, _ = services.reader_upload_receive(device=reader, body=body)
        ids.append(upload.pk)
    return ids


def _processed(ids):
    return ReaderUpload.objects.filter(pk__in=ids, status=UploadStatus.PROCESSED).count() == len(ids)


def test_worker_killed_mid_upload_then_swept_and_retried_equals_a_clean_run(celery_on, start_worker, tmp_path):
    clean = clean_snapshot(41, 2)
    site, reader, _ = make_world(42)
    ids = _store(reader, 42)
    before = snapshot(site, 42)
    armed = tmp_path / "sleep"
    armed.write_text("armed")
    worker = start_worker(FAULT_SLEEP_FILE=str(armed))
    process_reader_upload.delay(ids[0])
    # The task is inside the pipeline's transaction (stock moves written, tag states not yet).
    wait_for(lambda: Path(f"{armed}.sleeping").exists(), timeout=60, what="the task to reach the hook", worker=worker)
    worker.kill()
    upload = ReaderUpload.objects.get(pk=ids[0])
    assert upload.status == UploadStatus.QUEUED and upload.attempts == 1
    assert snapshot(site, 42) == before  # the killed transaction left nothing

    # The message was not acked (acks_late); the sweeper sends both uploads again too.
    _sweep_and_retry(start_worker, ids)
    assert snapshot(site, 42) == clean


def _sweep_and_retry(start_worker, ids: list[int]) -> None:
    """The sweeper sends both uploads again; a new worker processes them; the killed
    first one took two attempts, the second one."""
    assert services.reader_uploads_requeue_stale(now=timezone.now() + dt.timedelta(seconds=300)) == 2
    worker = start_worker()
    wait_for(lambda: _processed(ids), timeout=90, what="the swept uploads", worker=worker)
    worker.stop()
    assert list(ReaderUpload.objects.filter(pk__in=ids).order_by("pk").values_list("attempts", flat=True)) == [2, 1]


def test_database_connection_terminated_mid_task_is_retried_once(celery_on, start_worker, tmp_path):
    clean = clean_snapshot(43, 2)
    site, reader, _ = make_world(44)
    ids = _store(reader, 44)
    armed = tmp_path / "drop"
    armed.write_text("armed")
    worker = start_worker(FAULT_DROP_FILE=str(armed))
    for pk in ids:
        process_reader_upload.delay(pk)
    wait_for(lambda: _processed(ids), timeout=90, what="both uploads after the dropped connection", worker=worker)
    worker.stop()
    assert Path(f"{armed}.dropped").exists()  # the fault did fire
    # The first task's attempt died with its connection; Celery retried it (autoretry) and it applied once.
    assert list(ReaderUpload.objects.filter(pk__in=ids).order_by("pk").values_list("attempts", flat=True)) == [2, 1]
    assert snapshot(site, 44) == clean


def test_worker_killed_mid_drain_leaves_the_upload_in_flight_and_the_sweep_finishes_it(
    celery_on, start_worker, tmp_path
):
    """The endpoint's hand-off (devices.upload_queue): the drain holds the upload in its
    in-flight list while it runs; killed there, the upload stays queued, nothing of it is
    written, and the sweeper's retry equals a clean run."""
    from devices import upload_queue

    clean = clean_snapshot(45, 2)
    site, reader, _ = make_world(46)
    armed = tmp_path / "sleep"
    armed.write_text("armed")
    before = snapshot(site, 46)
    ids = []
    for body in bodies(46, 2):
        upload, _ = services.reader_upload_receive(device=reader, body=body)  # hand-off on commit
        ids.append(upload.pk)
    client = upload_queue.broker_client()
    assert client.llen(upload_queue.pending_key()) == 2
    worker = start_worker(FAULT_SLEEP_FILE=str(armed))
    wait_for(lambda: Path(f"{armed}.sleeping").exists(), timeout=60, what="the drain to reach the hook", worker=worker)
    worker.kill()
    held = list(client.scan_iter(match=upload_queue.in_flight_key("*")))
    assert len(held) == 1 and client.lrange(held[0], 0, -1) == [upload_queue.encode(ids[0], _received(ids[0])).encode()]
    assert list(ReaderUpload.objects.filter(pk__in=ids).values_list("status", flat=True)) == ["queued"] * 2
    assert snapshot(site, 46) == before

    _sweep_and_retry(start_worker, ids)
    assert snapshot(site, 46) == clean


def _received(pk: int) -> dt.datetime:
    return ReaderUpload.objects.values_list("received_at", flat=True).get(pk=pk)
