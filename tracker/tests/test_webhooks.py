"""Webhooks: outbox written with the business change, Standard Webhooks
signatures, retries, disabling, replay and the SSRF guard."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading

import httpx
import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from standardwebhooks.webhooks import Webhook

from tests.factories.tracker import SiteFactory, UserFactory
from tests.factories.webhooks import WebhookEndpointFactory
from tracker import services as core
from tracker.models import Alert
from tracker.realtime import broadcast
from tracker.webhooks import services, signing, targets, tasks
from tracker.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"


class Receiver:
    """A partner's receiver behind httpx.MockTransport: scripted status codes,
    verifies every signature and dedupes by webhook-id like a real one should."""

    def __init__(self, secret: str | None = None):
        self.statuses: list[int] = []
        self.requests: list[httpx.Request] = []
        self.processed: dict[str, dict] = {}
        self.secret = secret
        self.raise_exc: Exception | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raise_exc is not None:
            raise self.raise_exc
        status = self.statuses.pop(0) if self.statuses else 200
        if status < 300:
            if self.secret:
                Webhook(self.secret).verify(request.content, dict(request.headers))
            self.processed.setdefault(request.headers["webhook-id"], json.loads(request.content))
        return httpx.Response(status, text="ok" if status < 300 else "nope")


@pytest.fixture
def public_dns(monkeypatch):
    resolved: dict[str, list[str]] = {}
    monkeypatch.setattr(targets, "resolve", lambda host, port: resolved.get(host, [PUBLIC_IP]))
    return resolved


@pytest.fixture
def receiver(monkeypatch, public_dns):
    rec = Receiver()
    monkeypatch.setattr(services, "http_transport", httpx.MockTransport(rec))
    return rec


@pytest.fixture
def endpoint(receiver):
    ep = WebhookEndpointFactory(owner=UserFactory(email="partner@example.com"))
    receiver.secret = ep.secret
    return ep


def _raise_alert(site, subject="item:SKU-1", capture=None):
    alert, _ = core.alert_raise(site=site, kind="stock.low", subject=subject, message="Low on SKU-1")
    return alert


def _make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


# --- Signing -----------------------------------------------------------------


def test_signature_verifies_with_the_standardwebhooks_package():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"stock.changed","data":{"qty":"1.000"}}'
    now = int(timezone.now().timestamp())
    headers = signing.headers(secret=secret, msg_id="evt_1", timestamp=now, body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(Exception, match="signature"):
        Webhook(signing.generate_secret()).verify(body, headers)


# --- Outbox ------------------------------------------------------------------


def test_event_is_delivered_after_commit_with_standard_headers(endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _raise_alert(endpoint.site)
    event = WebhookEvent.objects.get()
    assert event.type == "alert.raised" and event.id.startswith("evt_")
    assert receiver.requests == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == event.id
    assert request.headers["host"] == "partner.example.com"
    assert request.url.host == PUBLIC_IP  # connected to the checked address
    assert request.extensions["sni_hostname"] == "partner.example.com"
    body = Webhook(endpoint.secret).verify(request.content, dict(request.headers))
    assert body["id"] == event.id and body["type"] == "alert.raised" and body["site"] == endpoint.site.code
    assert body["data"]["alert"]["message"] == "Low on SKU-1"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.last_response_ms is not None


def test_rolled_back_change_emits_nothing(endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            _raise_alert(endpoint.site)
            raise RuntimeError("business write failed")
    assert not WebhookEvent.objects.exists() and receiver.requests == []


def test_only_subscribed_active_endpoints_of_the_site_get_the_event(receiver, django_capture_on_commit_callbacks):
    site, other = SiteFactory(), SiteFactory()
    wanted = WebhookEndpointFactory(site=site, event_types=["alert.raised"])
    WebhookEndpointFactory(site=site, event_types=["stock.changed"])
    WebhookEndpointFactory(site=site, event_types=["alert.raised"], active=False)
    WebhookEndpointFactory(site=other, event_types=["alert.raised"])
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(site)
        broadcast(site_id=site.pk, type="operation.started", data={})  # a page-only event
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [wanted.pk]
    assert WebhookEvent.objects.count() == 1


def test_no_subscriber_means_no_rows_and_no_query_after_the_first(django_assert_num_queries):
    site = SiteFactory()
    services.subscribed_types(site.pk)  # warm the cache
    with django_assert_num_queries(0):
        services.webhook_emit(site_id=site.pk, type="stock.changed", data={"item": "SKU-1"})
    assert not WebhookEvent.objects.exists()


def test_a_new_endpoint_is_seen_at_once_despite_the_cache(receiver, django_capture_on_commit_callbacks):
    site = SiteFactory()
    assert services.subscribed_types(site.pk) == frozenset()
    WebhookEndpointFactory(site=site, event_types=["stock.changed"])
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_emit(site_id=site.pk, type="stock.changed", data={"item": "SKU-1", "qty": 2})
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_unknown_event_type_is_refused():
    with pytest.raises(services.ValidationFailed):
        services.webhook_emit(site_id=SiteFactory().pk, type="stock.exploded", data={})


def test_events_queued_while_the_broker_is_down_are_delivered_by_the_sweeper(
    endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.drain_event, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site, subject="a")
        _raise_alert(endpoint.site, subject="b")
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    assert receiver.requests == []
    monkeypatch.undo()  # the broker is back: beat runs the sweeper
    monkeypatch.setattr(services, "http_transport", httpx.MockTransport(receiver))
    monkeypatch.setattr(targets, "resolve", lambda host, port: [PUBLIC_IP])
    assert tasks.sweep.delay().get() == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert len(receiver.processed) == 2


# --- Retries -----------------------------------------------------------------


def test_receiver_failing_twice_then_succeeding_gets_the_event_once(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    assert services.webhooks_sweep() == 0  # not due yet
    for _ in range(2):
        _make_due(delivery)
        services.webhooks_sweep()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    assert [a.status_code for a in WebhookAttempt.objects.filter(delivery=delivery)] == [500, 503, 200]
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1
    assert list(receiver.processed) == [delivery.event_id]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # healthy again


def test_timeouts_and_redirects_are_failures(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.raise_exc = httpx.ReadTimeout("slow")
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == "timeout"
    receiver.raise_exc = None
    receiver.statuses = [302]
    _make_due(delivery)
    services.webhooks_sweep()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 302
    assert len(receiver.requests) == 2  # the redirect was not followed


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 10
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    for attempt, ceiling in ((1, 10), (2, 20), (5, 160), (20, 3600)):
        delays = {services.backoff_seconds(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_gives_up_after_the_last_attempt(endpoint, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    delivery = WebhookDelivery.objects.get()
    _make_due(delivery)
    services.webhooks_sweep()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD and delivery.next_attempt_at is None


def test_a_claimed_delivery_is_not_sent_twice(endpoint):
    event = WebhookEvent.objects.create(site=endpoint.site, type="stock.changed", payload={}, created_at=timezone.now())
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=timezone.now())
    now = timezone.now()
    assert services._claim(delivery.pk, now) is True
    assert services._claim(delivery.pk, now) is False  # a second worker finds it leased


# --- Disabling ---------------------------------------------------------------


def test_endpoint_failing_for_a_day_is_disabled_and_its_owner_alerted(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500] * 5
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site, subject="x")
        _raise_alert(endpoint.site, subject="y")
    endpoint.refresh_from_db()
    assert not endpoint.active and "failing since" in endpoint.disabled_reason
    alert = Alert.objects.get(kind=services.ALERT_KIND_DISABLED)
    assert alert.data["owner"] == endpoint.owner_id and endpoint.url in alert.message
    assert [m.to for m in mail.outbox] == [["partner@example.com"]]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DEAD}
    assert len(receiver.requests) == 1  # the second event found the endpoint disabled
    # Re-enabling clears the failure state and the alert; a replay then goes out.
    receiver.statuses = []  # the partner fixed their receiver
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_update(endpoint=endpoint, actor=endpoint.owner, active=True)
        services.delivery_replay(delivery=WebhookDelivery.objects.order_by("pk").last(), actor=endpoint.owner)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since is None and endpoint.disabled_reason == ""
    assert not Alert.objects.filter(kind=services.ALERT_KIND_DISABLED, cleared_at__isnull=True).exists()
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 1


def test_sweeper_disables_an_endpoint_failing_for_a_day_without_new_traffic(endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(hours=24, minutes=1)
    )
    services.webhooks_sweep()
    endpoint.refresh_from_db()
    assert not endpoint.active


def test_replay_sends_the_same_id_again(endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_replay(delivery=delivery, actor=endpoint.owner)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.event_id] * 2
    assert len(receiver.processed) == 1  # the receiver dropped the duplicate by id
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


# --- Target checks (SSRF) ----------------------------------------------------


@pytest.mark.parametrize(
    "url, addresses",
    [
        ("http://partner.example.com/h", [PUBLIC_IP]),  # plain http outside DEBUG
        ("ftp://partner.example.com/h", [PUBLIC_IP]),
        ("https://user:pw@partner.example.com/h", [PUBLIC_IP]),
        ("https://partner.example.com/h", ["127.0.0.1"]),
        ("https://partner.example.com/h", ["169.254.169.254"]),  # cloud metadata
        ("https://partner.example.com/h", ["10.1.2.3"]),
        ("https://partner.example.com/h", [PUBLIC_IP, "192.168.1.10"]),  # one bad record is enough
        ("https://partner.example.com/h", ["::ffff:127.0.0.1"]),
        ("https://partner.example.com/h", ["fd00::1"]),
        ("https://partner.example.com/h", []),
    ],
)
def test_unsafe_targets_are_refused(settings, monkeypatch, url, addresses):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOW_HTTP = False
    monkeypatch.setattr(targets, "resolve", lambda host, port: addresses)
    with pytest.raises(targets.TargetRefused):
        targets.check_target(url)


def test_allowed_networks_open_private_ranges(settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.8.0.0/16"]
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["10.8.3.4"])
    assert str(targets.check_target("https://erp.vpn.example/h").address) == "10.8.3.4"
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["10.9.3.4"])
    with pytest.raises(targets.TargetRefused):
        targets.check_target("https://erp.vpn.example/h")


def test_debug_default_allows_loopback_and_production_default_does_not(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = None
    settings.DEBUG = True
    assert targets.address_allowed(targets.ipaddress.ip_address("127.0.0.1"))
    settings.DEBUG = False
    assert not targets.address_allowed(targets.ipaddress.ip_address("127.0.0.1"))
    assert targets.address_allowed(targets.ipaddress.ip_address(PUBLIC_IP))


def test_target_is_checked_again_before_each_send(endpoint, receiver, public_dns, django_capture_on_commit_callbacks):
    public_dns["partner.example.com"] = ["10.0.0.5"]  # DNS now points inside
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "may not reach" in delivery.last_error
    assert receiver.requests == []


def test_endpoint_create_checks_the_url(public_dns):
    site, owner = SiteFactory(), UserFactory()
    public_dns["internal.example"] = ["127.0.0.1"]
    with pytest.raises(targets.TargetRefused):
        services.webhook_endpoint_create(
            owner=owner, site=site, url="https://internal.example/h", event_types=["stock.changed"]
        )
    with pytest.raises(services.ValidationFailed):
        services.webhook_endpoint_create(owner=owner, site=site, url="https://ok.example/h", event_types=["nope"])
    endpoint = services.webhook_endpoint_create(
        owner=owner, site=site, url="https://ok.example/h", event_types=["stock.changed", "stock.changed"]
    )
    assert endpoint.event_types == ["stock.changed"]


# --- A real receiver over HTTP -----------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    script: list[int] = []
    seen: dict[str, bytes] = {}
    hits: list[str] = []
    secret = ""

    def do_POST(self):  # http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        Webhook(self.secret).verify(body, headers)  # raises on a bad signature -> 500
        msg_id = headers["webhook-id"]
        self.hits.append(msg_id)
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            self.seen.setdefault(msg_id, body)  # dedupe by webhook-id
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_receiver(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_ALLOW_HTTP = True
    _Handler.script, _Handler.seen, _Handler.hits = [500, 500], {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Handler
    server.shutdown()
    server.server_close()


def test_real_http_receiver_failing_twice_gets_the_event_exactly_once(
    http_receiver, django_capture_on_commit_callbacks
):
    url, handler = http_receiver
    site = SiteFactory()
    endpoint = services.webhook_endpoint_create(owner=UserFactory(), site=site, url=url, event_types=["alert.raised"])
    handler.secret = endpoint.secret
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(site)
    delivery = WebhookDelivery.objects.get()
    while delivery.status != DeliveryStatus.SUCCEEDED:
        assert delivery.attempts < 3
        _make_due(delivery)
        services.webhooks_sweep()
        delivery.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_replay(delivery=delivery, actor=None)  # a duplicate on purpose
    assert handler.hits == [delivery.event_id] * 4
    assert list(handler.seen) == [delivery.event_id]
    assert json.loads(handler.seen[delivery.event_id])["type"] == "alert.raised"
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 500, 200, 200]


def test_cache_outage_does_not_lose_or_fail_the_event(
    endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(services.cache, "get", down)
    monkeypatch.setattr(services.cache, "set", down)
    monkeypatch.setattr(services.cache, "delete", down)
    with django_capture_on_commit_callbacks(execute=True):
        _raise_alert(endpoint.site)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_sweep_command_delivers_due_deliveries(endpoint, receiver):
    import io

    from django.core.management import call_command

    services.webhook_emit(site_id=endpoint.site_id, type="stock.changed", data={"item": "SKU-1"})
    out = io.StringIO()
    call_command("webhooks_sweep", stdout=out)
    assert out.getvalue().startswith("1 deliveries")
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED
