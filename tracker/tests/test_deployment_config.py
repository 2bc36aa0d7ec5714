"""Deployment settings that need no services: the replica router, the PgBouncer switch
and the Celery queue routes (the multi-process proofs are in tests/scale/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from config.db_routers import ReplicaRouter, on_replica, reading_from_replica, replica_alias
from inventory.models import StockMove

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def with_replica(monkeypatch):
    # The router only asks whether the alias is configured; no connection is opened here.
    monkeypatch.setattr("config.db_routers.replica_configured", lambda: True)


def test_without_a_replica_everything_reads_the_primary():
    router = ReplicaRouter()
    with reading_from_replica() as alias:
        assert alias == "default" == replica_alias()
        assert router.db_for_read(StockMove) == "default"


def test_with_a_replica_only_the_asked_for_reads_go_to_it(with_replica, monkeypatch):
    router = ReplicaRouter()
    assert router.db_for_read(StockMove) == "default"  # not asked: the primary
    with reading_from_replica() as alias:
        assert alias == "replica" == replica_alias()
        assert router.db_for_read(StockMove) == "replica"
        assert router.db_for_write(StockMove) == "default"
        with monkeypatch.context() as inside:  # in a transaction (atomic), which reads its own writes
            inside.setattr(connections["default"], "in_atomic_block", True)
            assert router.db_for_read(StockMove) == "default"
    assert router.db_for_read(StockMove) == "default"  # the block ended

    @on_replica
    def report() -> str:
        return router.db_for_read(StockMove)

    assert report() == "replica"
    assert router.allow_migrate("replica", "inventory") is False and router.allow_migrate("default", "inventory")


def test_each_task_family_has_its_own_queue_and_a_plain_worker_consumes_them_all():
    from config.celery import app

    def queue(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("devices.tasks.process_reader_upload") == "ingest"
    assert queue("devices.tasks.requeue_stale_uploads") == "ingest"
    assert queue("webhooks.drain_event") == queue("webhooks.deliver") == queue("webhooks.sweep") == "webhooks"
    assert queue("inventory.forecasting.tasks.forecasts_refresh_site") == "reports"
    for task in (
        "wip.tasks.check_overtime",
        "inventory.tasks.reorder_sweep_all_sites",
        "devices.tasks.check_devices_silent",
    ):
        assert queue(task) == "alerts"
    assert queue("tracker.idempotency_purge") == "alerts"
    assert queue("something.unrouted") == "celery"
    # Every registered task lands on a queue a worker without -Q consumes (make serve, make demo).
    app.loader.import_default_modules()
    consumed = set(app.amqp.queues)
    assert consumed == {"celery", "ingest", "alerts", "webhooks", "reports"}
    assert {queue(name) for name in app.tasks if not name.startswith("celery.")} <= consumed


def _settings_with(**env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({a: {'options': d.get('OPTIONS', {}), "
        "'no_ssc': d.get('DISABLE_SERVER_SIDE_CURSORS', False), 'test': d.get('TEST', {})} "
        "for a, d in settings.DATABASES.items()}, default=str))"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter and our code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_database_pooler_pgbouncer_turns_off_prepared_statements_and_server_side_cursors():
    seen = _settings_with(
        DATABASE_URL="postgres://app@pgbouncer:6432/shopfloor",
        DATABASE_POOLER="pgbouncer",
        DATABASE_REPLICA_URL="postgres://app@replica:5432/shopfloor",
    )
    for alias in ("default", "replica"):
        assert seen[alias]["options"]["prepare_threshold"] is None
        assert seen[alias]["no_ssc"] is True
    assert seen["replica"]["test"]["MIRROR"] == "default"
    plain = _settings_with(DATABASE_URL="postgres://app@db:5432/shopfloor", DATABASE_POOLER="", DATABASE_REPLICA_URL="")
    assert set(plain) == {"default"}
    assert "prepare_threshold" not in plain["default"]["options"] and plain["default"]["no_ssc"] is False
