"""JSON logs with the request id, the id following a request into Celery tasks, and /metrics."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from asgiref.sync import sync_to_async
from celery.signals import before_task_publish
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.celery import app
from tests.factories.tracker import SiteFactory, user_with_role
from tracker.observability import celery_signals, metrics
from tracker.observability.logs import JsonFormatter, RequestIdFilter
from tracker.request_context import request_id_var
from tracker.routing import websocket_urlpatterns


@app.task(name="tracker.tests.echo_request_id")
def echo_request_id():
    logging.getLogger("tracker.tests").info("inside the task")
    return request_id_var.get()


def _record(msg="hello %s", args=("world",), exc_info=None, **extra):
    record = logging.LogRecord("tracker.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


# --- logs ----------------------------------------------------------------------------


def test_json_formatter_carries_request_id_extra_fields_and_exception():
    token = request_id_var.set("req-123")
    try:
        try:
            raise ValueError("bad thing")
        except ValueError:
            record = _record(exc_info=sys.exc_info(), upload_id=42)
    finally:
        request_id_var.reset(token)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "hello world" and payload["level"] == "WARNING"
    assert payload["logger"] == "tracker.test" and payload["request_id"] == "req-123"
    assert payload["upload_id"] == 42
    assert "ValueError: bad thing" in payload["exc_info"]
    assert payload["ts"].endswith("+00:00")


def test_plain_format_shows_request_id_placeholder_outside_requests():
    record = _record()
    assert record.request_id == "-"
    formatted = logging.Formatter("%(levelname)s [%(request_id)s] %(message)s").format(record)
    assert formatted == "WARNING [-] hello world"


def test_request_id_is_echoed_and_sanitised(db):
    client = Client()
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="evil\nheader value")["X-Request-ID"]
    assert generated != "evil\nheader value" and len(generated) == 32


def test_log_format_defaults(settings):
    # Test settings run with DEBUG on: readable lines; production defaults to JSON (test_security checks).
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["request_id"]
    assert settings.LOGGING["formatters"]["json"]["()"].endswith("JsonFormatter")


# --- request id into Celery tasks ----------------------------------------------------------


def test_publish_adds_the_request_id_header():
    headers: dict = {}
    token = request_id_var.set("req-pub")
    try:
        celery_signals.add_request_id_header(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {celery_signals.HEADER: "req-pub"}
    empty: dict = {}
    celery_signals.add_request_id_header(headers=empty)
    assert empty == {}


def test_worker_side_task_runs_with_the_publishers_request_id():
    assert request_id_var.get() == ""
    result = echo_request_id.apply(headers={celery_signals.HEADER: "req-from-web"})
    assert result.get() == "req-from-web"
    assert request_id_var.get() == ""  # reset after the task


def test_worker_reads_header_exposed_as_request_attribute():
    class FakeRequest:
        shopfloor_request_id = "req-attr"
        headers = None

    class FakeTask:
        request = FakeRequest()

    assert celery_signals._incoming_request_id(FakeTask()) == "req-attr"


def test_eager_task_keeps_the_callers_request_id():
    token = request_id_var.set("req-eager")
    try:
        assert echo_request_id.delay().get() == "req-eager"
    finally:
        request_id_var.reset(token)


def test_task_without_request_gets_its_own_id():
    assert echo_request_id.apply(task_id="t-1").get() == "task-t-1"


@pytest.mark.real_worker
def test_published_message_carries_the_request_id_header():
    seen: list[dict] = []

    def spy(headers=None, **kwargs):
        seen.append(dict(headers or {}))

    before_task_publish.connect(spy, weak=False)
    token = request_id_var.set("req-broker")
    try:
        echo_request_id.apply_async()
    finally:
        request_id_var.reset(token)
        before_task_publish.disconnect(spy)
    assert seen and seen[-1][celery_signals.HEADER] == "req-broker"


# --- /metrics ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_from_loopback_list_request_and_app_metrics():
    metrics.upload_intake_total.labels(kind="reader", outcome="accepted").inc()
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics")  # the test client's REMOTE_ADDR is 127.0.0.1
    assert response.status_code == 200
    body = response.content.decode()
    for name in (
        "django_http_requests_total_by_method_total",
        "shopfloor_upload_intake_total",
        "shopfloor_upload_processing_lag_seconds",
        "shopfloor_pipeline_errors_total",
        "shopfloor_webhook_failures_total",
        "shopfloor_websocket_connections",
        "shopfloor_celery_queue_depth",
    ):
        assert name in body, name
    assert 'shopfloor_upload_intake_total{kind="reader",outcome="accepted"}' in body


@pytest.mark.django_db
def test_metrics_are_hidden_from_remote_anonymous_and_proxied_requests():
    assert Client(REMOTE_ADDR="10.0.0.5").get("/metrics").status_code == 404
    # Behind a local reverse proxy everything comes from 127.0.0.1: a forwarded request is not local.
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    viewer = Client(REMOTE_ADDR="10.0.0.5")
    viewer.force_login(user_with_role("viewer", SiteFactory()))
    assert viewer.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_for_staff_and_bearer_token(settings):
    staff = Client(REMOTE_ADDR="10.0.0.5")
    staff.force_login(user_with_role(None, is_staff=True))
    assert staff.get("/metrics").status_code == 200
    settings.METRICS_TOKEN = "scrape-secret"
    remote = Client(REMOTE_ADDR="10.0.0.5")
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    settings.METRICS_TOKEN = ""
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_queue_depth_is_read_from_redis_at_scrape_time(monkeypatch):
    lengths = {"celery": 7, "uploads": 2}

    class FakeRedis:
        def llen(self, name):
            return lengths[name]

    import redis

    monkeypatch.setattr(redis.Redis, "from_url", classmethod(lambda cls, url, **kw: FakeRedis()))
    collector = metrics.CeleryQueueDepthCollector(redis_url="redis://fake", queues=["celery", "uploads"])
    (family,) = list(collector.collect())
    assert {s.labels["queue"]: s.value for s in family.samples} == {"celery": 7.0, "uploads": 2.0}
    lengths["celery"] = 0
    (family,) = list(collector.collect())
    assert {s.labels["queue"]: s.value for s in family.samples}["celery"] == 0.0


def test_queue_depth_survives_redis_down(monkeypatch):
    collector = metrics.CeleryQueueDepthCollector(redis_url="redis://127.0.0.1:1/0", queues=["celery"])
    (family,) = list(collector.collect())
    assert family.samples == []


def test_queue_names_include_routed_queues(settings):
    settings.CELERY_TASK_ROUTES = {"devices.tasks.*": {"queue": "uploads"}}
    assert metrics.queue_names() == ["celery", "uploads"]


@pytest.mark.redis
def test_queue_depth_against_real_redis(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("shopfloor-test-queue")
    client.rpush("shopfloor-test-queue", "a", "b", "c")
    try:
        (family,) = list(metrics.CeleryQueueDepthCollector(queues=["shopfloor-test-queue"]).collect())
        assert family.samples[0].value == 3.0
    finally:
        client.delete("shopfloor-test-queue")


@pytest.mark.django_db(transaction=True)
async def test_websocket_connections_gauge_follows_connect_and_disconnect():
    @sync_to_async
    def world():
        site = SiteFactory(code="gauge-a")
        return user_with_role("viewer", site), user_with_role(None)

    user, stranger = await world()
    before = metrics.websocket_connections._value.get()
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/sites/gauge-a/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected and metrics.websocket_connections._value.get() == before + 1
    refused = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/sites/gauge-a/")
    refused.scope["user"] = stranger
    assert not (await refused.connect())[0]
    assert metrics.websocket_connections._value.get() == before + 1  # refused sockets are not counted
    await communicator.disconnect()
    assert metrics.websocket_connections._value.get() == before
