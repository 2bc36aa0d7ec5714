"""Sending a webhook delivery reads one month's partition of the deliveries table.

The ``deliver`` task's message carries the delivery's partition key (``created_at``) next
to its id, as the drain's scan does for each row it sends, and every statement of the
attempt names it, so PostgreSQL prunes to the delivery's month instead of probing every
month's index (as ``devices/tests/test_partitioned_ingest.py`` checks for uploads). A
message with the id alone (enqueued by an older release) is still sent. The plans are
checked with ``EXPLAIN`` on PostgreSQL with pg_partman; the message's shape and the
fallbacks on every database.
"""

from __future__ import annotations

import datetime as dt
import functools
from unittest import mock

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories.webhooks import WebhookEndpointFactory
from tests.partitions import partitions_read, require_partman, statements_on
from tracker.webhooks import services, targets, tasks
from tracker.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

_partitions_read = functools.partial(partitions_read, "webhooks_webhookdelivery")
_delivery_statements = functools.partial(statements_on, "webhooks_webhookdelivery")


@pytest.fixture
def partman() -> None:
    require_partman("deliveries")


@pytest.fixture
def sent(monkeypatch) -> list[httpx.Request]:
    """The requests the receiver got (it answers 200)."""
    requests: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, text="ok")

    monkeypatch.setattr(targets, "resolve", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr(services, "http_transport", httpx.MockTransport(receive))
    return requests


def _due(**endpoint) -> WebhookDelivery:
    """A delivery due now, written without enqueueing anything (the test sends it itself)."""
    ep = WebhookEndpointFactory(**endpoint)
    now = timezone.now()
    event = WebhookEvent.objects.create(site=ep.site, type="alert.raised", payload={}, created_at=now)
    return WebhookDelivery.objects.create(endpoint=ep, event=event, next_attempt_at=now)


def _month(delivery: WebhookDelivery) -> str:
    return f"p{delivery.created_at.astimezone(dt.UTC):%Y_%m}"


# --------------------------------------------------------------------------- the message


def test_a_replay_enqueues_the_delivery_id_and_its_created_at(django_capture_on_commit_callbacks):
    delivery = _due()
    with (
        mock.patch("tracker.webhooks.tasks.deliver.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.delivery_replay(delivery=delivery, actor=None)
    delay.assert_called_once_with(delivery.pk, delivery.created_at.isoformat())


def test_a_message_with_the_partition_key_is_sent_once(sent):
    delivery = _due()
    message = services.delivery_message(delivery.pk, delivery.created_at)

    tasks.deliver(*message)
    tasks.deliver(*message)  # a redelivery: no longer due, nothing more

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(sent)) == (DeliveryStatus.SUCCEEDED, 1, 1)


def test_a_message_with_the_id_alone_is_still_sent(sent):
    delivery = _due()

    tasks.deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(sent)) == (DeliveryStatus.SUCCEEDED, 1, 1)


def test_a_key_naming_no_delivery_sends_nothing_and_leaves_it_to_the_sweeper(sent):
    delivery = _due()

    tasks.deliver(delivery.pk, (delivery.created_at - dt.timedelta(days=40)).isoformat())
    tasks.deliver(987654321, timezone.now().isoformat())
    tasks.deliver(987654321)
    assert sent == []

    services.webhooks_sweep()  # the sweeper's scan names each row's own key
    delivery.refresh_from_db()
    assert (delivery.status, len(sent)) == (DeliveryStatus.SUCCEEDED, 1)


# --------------------------------------------------------------------------- the plans (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
@pytest.mark.parametrize("answer", [200, 500])
def test_every_delivery_statement_of_the_task_reads_one_partition(sent, monkeypatch, answer):
    delivery = _due()
    # A lookup by id alone reads every month's partition: what the message's key avoids.
    everywhere = _partitions_read(str(WebhookDelivery.objects.filter(pk=delivery.pk).query))
    assert len(everywhere) > 3, everywhere
    monkeypatch.setattr(services, "http_transport", httpx.MockTransport(lambda request: httpx.Response(answer)))

    with CaptureQueriesContext(connection) as ctx:
        tasks.deliver(*services.delivery_message(delivery.pk, delivery.created_at))

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    statements = _delivery_statements(ctx.captured_queries)
    assert len(statements) >= 4  # claim, load, write the outcome, read it back
    for sql in statements:
        assert _partitions_read(sql) == {_month(delivery)}, sql


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
def test_a_replay_and_a_disabled_endpoint_read_one_partition(sent):
    delivery = _due(active=False)
    with CaptureQueriesContext(connection) as ctx:
        assert services.delivery_attempt(delivery_id=delivery.pk, created_at=delivery.created_at) is not None
    live = _due()
    with CaptureQueriesContext(connection) as replay:
        services.delivery_replay(delivery=live, actor=None)

    given_up = _delivery_statements(ctx.captured_queries)
    requeued = _delivery_statements(replay.captured_queries)
    assert (len(given_up), len(requeued)) == (3, 2)  # claim, load, give up; lock, requeue
    for sql in given_up:
        assert _partitions_read(sql) == {_month(delivery)}, sql
    for sql in requeued:
        assert _partitions_read(sql) == {_month(live)}, sql


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
def test_the_drain_scans_once_then_reads_one_partition_per_delivery(sent):
    delivery = _due()

    with CaptureQueriesContext(connection) as ctx:
        assert services.deliveries_drain(event_id=delivery.event_id) == 1

    statements = _delivery_statements(ctx.captured_queries)
    unpruned = [sql for sql in statements if len(_partitions_read(sql)) > 1]
    assert len(unpruned) == 1 and "ORDER BY" in unpruned[0], unpruned  # the scan for what is due
    assert len(statements) >= 5


@pytest.mark.postgres
@pytest.mark.usefixtures("partman")
def test_an_old_message_finds_the_row_by_id_then_reads_one_partition(sent):
    delivery = _due()

    with CaptureQueriesContext(connection) as ctx:
        tasks.deliver(delivery.pk)

    statements = _delivery_statements(ctx.captured_queries)
    unpruned = [sql for sql in statements if len(_partitions_read(sql)) > 1]
    assert len(unpruned) == 2 and len(statements) >= 4, unpruned  # the claim and the load
