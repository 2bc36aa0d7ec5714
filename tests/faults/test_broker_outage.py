"""Redis stopped while devices keep uploading: every upload is stored and answered
202; when Redis returns, the sweeper enqueues them and a real worker processes
each once. The final state equals a clean run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from devices import services
from devices.models import ReaderUpload, UploadStatus
from tests.faults.conftest import wait_for
from tests.faults.pipeline_world import bodies, clean_snapshot, make_world, snapshot

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_uploads_during_a_broker_outage_are_processed_once_when_it_returns(private_redis, celery_on, start_worker):
    clean = clean_snapshot(31)
    site, reader, secret = make_world(32)
    client = APIClient()

    private_redis.stop()
    answers = [
        client.generic(
            "POST",
            "/api/v1/devices/uploads/",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
            HTTP_X_UPLOAD_ID=f"outage-{n}",
        )
        for n, body in enumerate(bodies(32))
    ]
    assert [a.status_code for a in answers] == [202] * 4, [a.content for a in answers]
    ids = [a.json()["id"] for a in answers]
    assert list(ReaderUpload.objects.filter(pk__in=ids).values_list("status", flat=True)) == ["queued"] * 4
    # a retry of the same upload during the outage is still one upload
    again = client.generic(
        "POST",
        "/api/v1/devices/uploads/",
        bodies(32)[0],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_X_UPLOAD_ID="outage-0",
    )
    assert again.status_code == 200 and again.json()["id"] == ids[0]

    private_redis.start()
    # Beat's sweeper runs once the uploads are older than stale_upload_s; run it twice
    # (two beats before a worker is up): duplicates in the queue must not double anything.
    later = timezone.now() + dt.timedelta(seconds=300)
    assert services.reader_uploads_requeue_stale(now=later) == 4
    assert services.reader_uploads_requeue_stale(now=later) == 4
    worker = start_worker()
    wait_for(
        lambda: ReaderUpload.objects.filter(pk__in=ids, status=UploadStatus.PROCESSED).count() == 4,
        timeout=90,
        what="the swept uploads to be processed",
        worker=worker,
    )
    worker.stop()
    assert list(ReaderUpload.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == [1] * 4
    assert snapshot(site, 32) == clean
