"""A webhook receiver down for a while (connection refused, several sweeps), then
back on the same address: every event emitted meanwhile is delivered, once each.
(Single-event retries and broker outages: tracker/tests/test_webhooks.py.)"""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from django.utils import timezone

from tests.factories.tracker import SiteFactory, UserFactory
from tracker import services as core
from tracker.tests.test_webhooks import _Handler
from tracker.webhooks import services
from tracker.webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_events_emitted_while_the_receiver_is_down_are_each_delivered_once_when_it_returns(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_ALLOW_HTTP = True
    with socket.socket() as s:  # a port nobody listens on: the receiver is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = SiteFactory()
    endpoint = services.webhook_endpoint_create(
        owner=UserFactory(), site=site, url=f"http://127.0.0.1:{port}/hook", event_types=["alert.raised"]
    )
    _Handler.script, _Handler.seen, _Handler.hits, _Handler.secret = [], {}, [], endpoint.secret
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            core.alert_raise(site=site, kind="stock.low", subject=f"item:{n}", message="low")
    for _ in range(3):  # the sweeper keeps trying while it is down
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        services.webhooks_sweep()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    assert _Handler.hits == []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)  # back, same address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        services.webhooks_sweep()
        services.webhooks_sweep()  # a second beat finds nothing due
    finally:
        server.shutdown()
        server.server_close()
    events = set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert sorted(_Handler.hits) == sorted(events) and len(events) == 5  # each sent once after the outage
    assert set(_Handler.seen) == events
