"""Behind PgBouncer in transaction pooling mode (Debian's pgbouncer 1.18, which has no
prepared-statement support in that mode): with ``DATABASE_POOLER=pgbouncer`` a posting,
concurrent transfers, an idempotent retry, a report and an export all work, and the
transfers were multiplexed over fewer server connections than clients.

PgBouncer is started on a free port in front of 127.0.0.1:5432 and stopped after."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.faults.conftest import worker_database_url
from tests.scale.procs import free_port, processes

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POOL_SIZE = 3  # server connections per database: fewer than the slice's client threads


@pytest.fixture
def pgbouncer(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    upstream = urlsplit(worker_database_url())
    port = free_port()
    run_dir = tmp_path / "pgbouncer"
    run_dir.mkdir()
    (run_dir / "userlist.txt").write_text(f'"{upstream.username or "postgres"}" ""\n')
    (run_dir / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={upstream.hostname or '127.0.0.1'} port={upstream.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {run_dir / 'userlist.txt'}",
                f"admin_users = {upstream.username or 'postgres'}",
                "pool_mode = transaction",
                f"default_pool_size = {POOL_SIZE}",
                "max_client_conn = 200",
                "ignore_startup_parameters = extra_float_digits",
                "",
            ]
        )
    )
    # PgBouncer refuses to run as root: -u drops to the postgres user after reading the config.
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    with processes(tmp_path, dict(os.environ)) as procs:
        procs.start("pgbouncer", [binary, *user, str(run_dir / "pgbouncer.ini")])
        procs.wait_for(lambda: _answers(port), timeout=20, what="pgbouncer to accept connections")
        yield port


def _answers(port: int) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="pgbouncer", autocommit=True) as c:
            c.execute("SHOW VERSION")
        return True
    except psycopg.Error:
        return False


def _stats(port: int, database: str) -> dict[str, int]:
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="pgbouncer", autocommit=True, prepare_threshold=None
    ) as admin:
        cursor = admin.execute("SHOW STATS")
        columns = [d.name for d in cursor.description or []]
        for row in cursor.fetchall():
            record = dict(zip(columns, row, strict=True))
            if record["database"] == database:
                return {k: int(v) for k, v in record.items() if k.startswith("total_")}
    return {}


def test_a_representative_slice_runs_behind_pgbouncer_in_transaction_mode(pgbouncer, tmp_path):
    database = urlsplit(worker_database_url())
    url = urlunsplit(database._replace(netloc=f"{database.username or 'postgres'}@127.0.0.1:{pgbouncer}"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATABASE_POOLER": "pgbouncer",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DB_POOL", None)
    env.pop("REDIS_URL", None)  # in-process tasks: this test is about the database connection
    result = subprocess.run(
        [sys.executable, "-m", "tests.scale.pooled_slice", "pgb"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["prepare_threshold"] is None and seen["server_side_cursors_disabled"] is True
    assert str(seen["client_port"]) == str(pgbouncer) and seen["server_port"] == str(database.port or 5432)
    assert seen["receipt_status"] == 201
    assert seen["transfer_failures"] == []
    assert seen["transfers"] + seen["transfers_refused"] == 6 * 12
    assert Decimal(seen["on_hand"]) == 300  # transfers only move stock: nothing lost or doubled
    assert seen["ledger_differences"] == 0
    assert seen["retry_statuses"] == [201, 201] and seen["retry_same_answer"] and seen["retry_moves"] == 1
    assert seen["report_status"] == 200
    assert seen["export_status"] == 200 and seen["export_lines"] > seen["transfers"]
    stats = _stats(pgbouncer, database.path.lstrip("/"))
    assert stats.get("total_xact_count", 0) > seen["transfers"], stats
