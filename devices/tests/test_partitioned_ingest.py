"""Processing an upload reads one day's partition of the uploads table.

The task's message carries the upload's partition key (``received_at``) next to its id,
and every statement of the processing path names it, so PostgreSQL prunes to the
upload's day instead of probing every day's index (``python -m bench ingest --compare-plain``
measured the uploads table's statements at about twice their plain-table time before,
ingestion as a whole at 0.89-0.92x of plain tables). A message with the id alone (enqueued by an older release) is
still processed. The plans are checked with ``EXPLAIN`` on PostgreSQL with pg_partman;
the message's shape and the fallbacks on every database.
"""

from __future__ import annotations

import datetime as dt
import functools
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import services, tasks
from devices.models import ReaderUpload, UploadStatus
from devices.tests.helpers import example
from tests.factories.devices import DeviceFactory, ReaderUploadFactory
from tests.partitions import partitions_read, require_partman, statements_on

pytestmark = pytest.mark.django_db

_partitions_read = functools.partial(partitions_read, "devices_readerupload")
_upload_statements = functools.partial(statements_on, "devices_readerupload")


@pytest.fixture
def partman() -> None:
    require_partman("uploads")


def _stored(device, fmt: str = "zebra_iotc") -> ReaderUpload:
    with mock.patch("devices.upload_queue.hand_off"):  # the test runs the task itself
        upload, created = services.reader_upload_receive(device=device, body=example(fmt))
    assert created
    return upload


# --------------------------------------------------------------------------- the message


def test_the_enqueued_message_carries_the_upload_id_and_its_received_at(site_a):
    device = DeviceFactory(site=site_a)
    with mock.patch("devices.tasks.process_reader_upload.delay") as delay:
        upload, _ = services.reader_upload_receive(device=device, body=example("zebra_iotc"))
        services._enqueue(upload.pk, upload.received_at)  # what the hand-off publishes without Redis
    delay.assert_called_once_with(upload.pk, upload.received_at.isoformat())


def test_a_message_with_the_id_alone_is_still_processed(site_a):
    upload = _stored(DeviceFactory(site=site_a))

    assert tasks.process_reader_upload(upload.pk) == UploadStatus.PROCESSED

    upload.refresh_from_db()
    assert (upload.status, upload.attempts) == (UploadStatus.PROCESSED, 1)


def test_a_message_with_the_partition_key_is_processed_once(site_a):
    upload = _stored(DeviceFactory(site=site_a))
    message = services.upload_message(upload.pk, upload.received_at)

    assert tasks.process_reader_upload(*message) == UploadStatus.PROCESSED
    assert tasks.process_reader_upload(*message) == UploadStatus.PROCESSED  # a redelivery: nothing more

    upload.refresh_from_db()
    assert (upload.status, upload.attempts) == (UploadStatus.PROCESSED, 1)
    assert upload.result["reads"] > 0


def test_a_stale_partition_key_falls_back_to_the_id(site_a):
    upload = _stored(DeviceFactory(site=site_a))
    message = services.upload_message(upload.pk, upload.received_at)
    ReaderUpload.objects.filter(pk=upload.pk).update(received_at=upload.received_at - dt.timedelta(days=1))

    assert tasks.process_reader_upload(*message) == UploadStatus.PROCESSED


def test_a_message_naming_no_upload_does_nothing(site_a):
    assert tasks.process_reader_upload(987654321) is None
    assert tasks.process_reader_upload(987654321, timezone.now().isoformat()) is None


def test_a_failed_attempt_is_noted_on_the_upload_by_its_partition_key(site_a):
    upload = _stored(DeviceFactory(site=site_a))
    message = services.upload_message(upload.pk, upload.received_at)
    with (
        mock.patch("devices.pipeline.ingest.ingest", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        tasks.process_reader_upload.run(*message)  # the task's body, without Celery's retries

    upload.refresh_from_db()
    assert (upload.status, upload.attempts, upload.reason) == (UploadStatus.QUEUED, 1, "RuntimeError: boom")


def test_a_rejected_upload_keeps_its_reason(site_a):
    device = DeviceFactory(site=site_a)
    upload = ReaderUploadFactory(device=device, body=b"not json")

    assert tasks.process_reader_upload(*services.upload_message(upload.pk, upload.received_at)) == "rejected"

    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED and upload.reason and upload.processed_at is not None


# --------------------------------------------------------------------------- the plans (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
@pytest.mark.parametrize("fmt", ["zebra_iotc", "ruuvi_gateway"])
def test_every_upload_statement_of_the_task_reads_one_partition(site_a, fmt):
    upload = _stored(DeviceFactory(site=site_a, upload_format=fmt), fmt)
    # A lookup by id alone reads every day's partition: what the message's key avoids.
    everywhere = _partitions_read(str(ReaderUpload.objects.filter(pk=upload.pk).query))
    assert len(everywhere) > 3, everywhere

    with CaptureQueriesContext(connection) as ctx:
        assert tasks.process_reader_upload(*services.upload_message(upload.pk, upload.received_at)) == "processed"

    statements = _upload_statements(ctx.captured_queries)
    assert len(statements) >= 3  # count the attempt, lock the row, write the outcome
    today = f"p{upload.received_at.astimezone(dt.UTC):%Y_%m_%d}"
    for sql in statements:
        assert _partitions_read(sql) == {today}, sql


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
def test_the_rejection_and_the_failure_note_read_one_partition(site_a):
    upload = ReaderUploadFactory(device=DeviceFactory(site=site_a), body=b"not json")
    message = services.upload_message(upload.pk, upload.received_at)
    today = f"p{upload.received_at.astimezone(dt.UTC):%Y_%m_%d}"

    with CaptureQueriesContext(connection) as ctx:
        assert tasks.process_reader_upload(*message) == "rejected"
        services.reader_upload_note_failure(upload_id=upload.pk, received_at=upload.received_at, error="x")

    statements = _upload_statements(ctx.captured_queries)
    assert len(statements) >= 4
    for sql in statements:
        assert _partitions_read(sql) == {today}, sql


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
def test_an_old_message_looks_the_key_up_once_then_reads_one_partition(site_a):
    upload = _stored(DeviceFactory(site=site_a))

    with CaptureQueriesContext(connection) as ctx:
        assert tasks.process_reader_upload(upload.pk) == "processed"

    statements = _upload_statements(ctx.captured_queries)
    unpruned = [sql for sql in statements if len(_partitions_read(sql)) > 1]
    assert len(unpruned) == 1 and "received_at" in unpruned[0].split("FROM")[0], unpruned
