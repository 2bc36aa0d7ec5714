"""Queues that scale apart: a webhook receiver that stalls holds up its own worker, never
an upload. Two real Celery workers on a private Redis, one per queue (webhooks, ingest),
as ``Procfile.scaled`` runs them."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from devices import services as device_services
from devices.models import ReaderUpload, UploadStatus
from tests.factories.tracker import UserFactory
from tests.faults.pipeline_world import bodies, make_world
from tracker import services as core
from tracker.webhooks import services as webhooks
from tracker.webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


class _Stalled(http.server.BaseHTTPRequestHandler):
    """Accepts the connection, then answers nothing until the test lets it go."""

    hits: list[float] = []
    release = threading.Event()

    def do_POST(self) -> None:
        _Stalled.hits.append(time.monotonic())
        _Stalled.release.wait(60)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stalled_receiver() -> Iterator[str]:
    _Stalled.hits, _Stalled.release = [], threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stalled)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        _Stalled.release.set()  # the worker's request returns, so the worker can stop
        server.shutdown()
        server.server_close()


def test_a_stalled_webhook_receiver_never_delays_an_upload(celery_on, procs, stalled_receiver, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_ALLOW_HTTP = True
    site, reader, _ = make_world(71)
    endpoint = webhooks.webhook_endpoint_create(
        owner=UserFactory(), site=site, url=stalled_receiver, event_types=["alert.raised"]
    )
    assert endpoint.active
    env = {"WEBHOOK_TIMEOUT_SECONDS": "55", "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    procs.worker("webhooks", "webhooks", **env)
    procs.worker("ingest", "ingest", **env)

    for n in range(3):  # each commit enqueues a drain on the webhooks queue
        core.alert_raise(site=site, kind="stock.low", subject=f"item:{n}", message="low")
    procs.wait_for(lambda: _Stalled.hits, timeout=40, what="the webhook worker to reach the stalled receiver")

    started = time.monotonic()
    upload, _ = device_services.reader_upload_receive(device=reader, body=bodies(71, 1)[0])  # -> ingest queue

    def processed() -> bool:
        return ReaderUpload.objects.get(pk=upload.pk).status == UploadStatus.PROCESSED

    procs.wait_for(processed, timeout=30, what="the upload to be processed while the receiver stalls")
    took = time.monotonic() - started
    # Meanwhile the webhook worker is still inside its first request: nothing delivered yet,
    # the other events wait behind it on their own queue.
    assert len(_Stalled.hits) == 1
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists()
    assert took < 25, f"upload took {took:.1f} s"
