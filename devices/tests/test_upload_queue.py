"""The endpoint hands uploads to a drain through Redis; the drain processes each once.

With Redis and a Celery that publishes (production), a stored upload costs the endpoint
one ``EVALSHA`` and publishes a drain only when none is running; the drain processes
what it finds, finishes what a lost predecessor held, and hands database failures to the
retrying per-upload task. The embedded default keeps publishing the per-upload task.
"""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from config.celery import app
from devices import services, upload_queue
from devices.models import ReaderUpload, UploadStatus
from devices.tests.helpers import example
from tests.factories.devices import DeviceFactory
from tracker.redis_scripts import lua

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

_keys = itertools.count()


@pytest.fixture
def publishing():
    """Celery publishes (as in production) instead of running tasks in-process; the drain
    task's publishing is recorded, not sent."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with (
        mock.patch("devices.tasks.drain_reader_uploads.delay") as delay,
        mock.patch("devices.tasks.drain_reader_uploads.apply_async") as later,
        mock.patch("devices.tasks.process_reader_upload.delay") as per_upload,
    ):
        yield mock.Mock(drain=delay, drain_later=later, per_upload=per_upload)
    app.conf.task_always_eager = eager


@pytest.fixture
def reader(site_a):
    return DeviceFactory(site=site_a, upload_format="zebra_iotc")


def _receive(device, n: int, django_capture_on_commit_callbacks) -> list[ReaderUpload]:
    uploads = []
    for _ in range(n):
        with django_capture_on_commit_callbacks(execute=True):
            upload, created = services.reader_upload_receive(
                device=device, body=example("zebra_iotc"), upload_key=f"q-{next(_keys)}"
            )
        assert created
        uploads.append(upload)
    return uploads


def _statuses(uploads) -> list[str]:
    return list(
        ReaderUpload.objects.filter(pk__in=[u.pk for u in uploads]).order_by("pk").values_list("status", flat=True)
    )


def _drains() -> int:
    value = upload_queue.broker_client().get(upload_queue.drains_key())
    return int(value) if value else 0


def _waiting() -> int:
    return upload_queue.broker_client().llen(upload_queue.pending_key())


def _failing(upload: ReaderUpload, error: Exception, calls: list[int]):
    """Processing ``upload`` raises ``error``; the others are processed (``calls``: every upload tried)."""
    real = services.reader_upload_process

    def process(*, upload_id, received_at=None):
        calls.append(upload_id)
        if upload_id == upload.pk:
            raise error
        return real(upload_id=upload_id, received_at=received_at)

    return mock.patch.object(services, "reader_upload_process", process)


def test_the_first_upload_publishes_a_drain_and_the_next_ones_only_join_the_list(
    reader, publishing, django_capture_on_commit_callbacks
):
    uploads = _receive(reader, 3, django_capture_on_commit_callbacks)
    assert publishing.drain.call_count == 1
    assert publishing.per_upload.call_count == 0
    assert _waiting() == 3 and _drains() == 1
    assert _statuses(uploads) == ["queued"] * 3

    counts = upload_queue.drain(drain_id="d1", linger_s=0.05)

    assert counts == {"processed": 3, "failed": 0, "retried": 0}
    assert _statuses(uploads) == ["processed"] * 3
    assert _waiting() == 0 and _drains() == 0  # the drain left the count when the list was empty
    assert upload_queue.broker_client().llen(upload_queue.in_flight_key("d1")) == 0


def test_an_upload_after_the_drain_left_publishes_a_new_one(reader, publishing, django_capture_on_commit_callbacks):
    _receive(reader, 1, django_capture_on_commit_callbacks)
    upload_queue.drain(drain_id="d1", linger_s=0.05)
    _receive(reader, 1, django_capture_on_commit_callbacks)
    assert publishing.drain.call_count == 2
    assert _drains() == 1


def test_a_backlog_beyond_the_running_drains_starts_another_up_to_the_limit(
    reader, publishing, django_capture_on_commit_callbacks, settings
):
    settings.UPLOAD_DRAINS_MAX = 2
    settings.UPLOAD_DRAIN_BACKLOG = 2
    _receive(reader, 8, django_capture_on_commit_callbacks)
    # 1st upload: no drain yet; 3rd: 3 waiting > 1 drain x 2; then the limit of 2 holds
    assert publishing.drain.call_count == 2
    assert _drains() == 2


def test_a_redelivered_drain_first_finishes_what_it_held(reader, publishing, django_capture_on_commit_callbacks):
    uploads = _receive(reader, 2, django_capture_on_commit_callbacks)
    client = upload_queue.broker_client()
    # The drain "crashed" right after moving the first message in flight.
    client.lmove(upload_queue.pending_key(), upload_queue.in_flight_key("lost"), "LEFT", "RIGHT")
    assert _waiting() == 1

    counts = upload_queue.drain(drain_id="lost", linger_s=0.05)  # Celery delivers it again: same id

    assert counts["processed"] == 2
    assert _statuses(uploads) == ["processed"] * 2
    assert client.llen(upload_queue.in_flight_key("lost")) == 0


def test_a_message_handled_twice_changes_nothing_the_second_time(
    reader, publishing, django_capture_on_commit_callbacks
):
    [upload] = _receive(reader, 1, django_capture_on_commit_callbacks)
    upload_queue.broker_client().rpush(upload_queue.pending_key(), upload_queue.encode(upload.pk, upload.received_at))
    counts = upload_queue.drain(drain_id="d1", linger_s=0.05)
    assert counts["processed"] == 2  # both messages ran the service; the second found it done
    assert ReaderUpload.objects.get(pk=upload.pk).attempts == 1


def test_a_database_error_hands_the_upload_to_the_retrying_task_and_pauses_the_drain(
    reader, publishing, django_capture_on_commit_callbacks
):
    first, second = _receive(reader, 2, django_capture_on_commit_callbacks)
    calls: list[int] = []
    with _failing(first, OperationalError("server closed the connection unexpectedly"), calls):
        counts = upload_queue.drain(drain_id="d1", linger_s=0.05)

    assert counts == {"processed": 0, "failed": 0, "retried": 1}
    publishing.per_upload.assert_called_once_with(first.pk, first.received_at.isoformat())
    publishing.drain_later.assert_called_once_with(countdown=5)  # a successor, on this drain's slot
    assert _drains() == 1 and _waiting() == 1  # the second upload waits for the successor
    assert "OperationalError" in ReaderUpload.objects.get(pk=first.pk).reason
    assert calls == [first.pk]


def test_an_upload_that_fails_is_noted_and_the_drain_goes_on(reader, publishing, django_capture_on_commit_callbacks):
    first, second = _receive(reader, 2, django_capture_on_commit_callbacks)
    with _failing(first, ValueError("a parser bug"), []):
        counts = upload_queue.drain(drain_id="d1", linger_s=0.05)

    assert counts == {"processed": 1, "failed": 1, "retried": 0}
    first.refresh_from_db()
    assert first.status == UploadStatus.QUEUED and first.reason == "ValueError: a parser bug"  # the sweeper retries it
    assert _statuses([second]) == ["processed"]


def test_redis_down_at_the_hand_off_leaves_the_upload_queued_for_the_sweeper(
    reader, publishing, django_capture_on_commit_callbacks
):
    with mock.patch.object(upload_queue, "lua", side_effect=RedisConnectionError("Redis is down")):
        [upload] = _receive(reader, 1, django_capture_on_commit_callbacks)  # no error reaches the device
    assert publishing.drain.call_count == 0
    assert _statuses([upload]) == ["queued"]


def test_a_drain_that_cannot_be_published_gives_its_slot_back(reader, publishing, django_capture_on_commit_callbacks):
    publishing.drain.side_effect = ConnectionError("broker down")
    _receive(reader, 1, django_capture_on_commit_callbacks)
    assert _drains() == 0  # the next upload tries again
    publishing.drain.side_effect = None
    _receive(reader, 2, django_capture_on_commit_callbacks)
    assert publishing.drain.call_count == 2 and _drains() == 1  # the failed one, then one for both


def test_a_drain_publishes_its_successor_after_a_batch(
    reader, publishing, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(upload_queue, "BATCH_UPLOADS", 2)
    uploads = _receive(reader, 3, django_capture_on_commit_callbacks)
    counts = upload_queue.drain(drain_id="d1", linger_s=0.05)
    assert counts["processed"] == 2
    assert publishing.drain.call_count == 2  # the first upload's, and the successor
    assert _drains() == 1 and _waiting() == 1  # the successor has the slot and the rest
    upload_queue.drain(drain_id="d2", linger_s=0.05)
    assert _statuses(uploads) == ["processed"] * 3 and _drains() == 0


def test_take_or_leave_never_strands_a_message():
    client = upload_queue.broker_client()
    take = lua(client, upload_queue.TAKE)
    keys = [upload_queue.pending_key(), upload_queue.drains_key(), upload_queue.in_flight_key("d")]
    client.set(upload_queue.drains_key(), 1)
    client.rpush(upload_queue.pending_key(), "7|")
    # An upload appended before the drain's last look: taken, and the drain stays counted.
    assert take(keys=keys, args=[1000, 60, "1"]) == b"7|"
    assert _drains() == 1
    # Nothing left: the drain leaves, so the next upload publishes a new drain.
    assert take(keys=keys, args=[1000, 60, "1"]) is None
    assert _drains() == 0


def test_without_redis_or_with_eager_celery_the_per_upload_task_is_published(reader):
    """Tests, the demo's simulated readers and the embedded default process in-process."""
    with mock.patch("devices.services._enqueue") as enqueue:
        upload_queue.hand_off(5, None)
    enqueue.assert_called_once_with(5, None)
