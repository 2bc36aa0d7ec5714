"""Read replicas: with ``DATABASE_REPLICA_URL`` set, a report, an EPCIS query and a CSV
export are served from a streaming replica while a posting goes to the primary.

The test starts its own pair in a temporary directory, so the shared cluster on 5432
is never reconfigured: ``initdb`` a primary on a free port, load the test database
into it (``pg_dump | psql``), ``pg_basebackup -R`` a hot standby from it on another
port, run the slice (``tests/scale/replica_slice.py``) against both, then stop both
(``pg_ctl stop -m immediate``) and remove the directory. PostgreSQL refuses to run as
root, so as root every server command runs as the ``postgres`` OS user (runuser)."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.conftest import worker_database_url
from tests.scale.procs import ROOT, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_basebackup").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Pair:
    def __init__(self, bindir: Path, base: Path, as_user: list[str]):
        self.bindir, self.base, self.as_user = bindir, base, as_user
        self.primary_port, self.replica_port = free_port(), free_port()
        self.started: list[Path] = []

    def run(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        tool = str(self.bindir / argv[0])
        return subprocess.run([*self.as_user, tool, *argv[1:]], check=True, capture_output=True, timeout=60, **kwargs)  # noqa: S603

    def configure(self, data: Path, port: int) -> None:
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.base}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n"
            )

    def start(self, data: Path) -> None:
        self.run("pg_ctl", "-D", str(data), "-l", str(self.base / f"{data.name}.log"), "-w", "-t", "30", "start")
        self.started.append(data)

    def stop(self) -> None:
        for data in reversed(self.started):
            subprocess.run(  # noqa: S603
                [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=30,
            )

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/shopfloor"


@pytest.fixture
def replica_pair() -> Iterator[Pair]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_basebackup) are not installed")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="shopfloor-replica-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres OS user to run the servers as")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pair = Pair(bindir, base, as_user)
    try:
        primary, replica = base / "primary", base / "replica"
        pair.run(
            "initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        pair.configure(primary, pair.primary_port)
        pair.start(primary)
        host = ["-h", "127.0.0.1", "-U", "postgres"]
        pair.run("createdb", *host, "-p", str(pair.primary_port), "shopfloor")
        source = urlsplit(worker_database_url())
        dump = subprocess.run(  # noqa: S603 - the test database, schema and the little data post_migrate made
            [str(bindir / "pg_dump"), "-h", source.hostname or "127.0.0.1", "-p", str(source.port or 5432)]
            + ["-U", source.username or "postgres", "--no-owner", "--no-privileges", source.path.lstrip("/")],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        pair.run("psql", *host, "-p", str(pair.primary_port), "-q", "-v", "ON_ERROR_STOP=1", "shopfloor", input=dump)
        # -c fast: checkpoint now rather than spread over minutes; --no-sync: a throwaway copy.
        pair.run(
            "pg_basebackup",
            *host,
            "-p",
            str(pair.primary_port),
            "-D",
            str(replica),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        pair.configure(replica, pair.replica_port)  # later lines win: the standby's own port
        pair.start(replica)
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_reports_read_the_replica_while_postings_write_the_primary(replica_pair):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": replica_pair.url(replica_pair.primary_port),
        "DATABASE_REPLICA_URL": replica_pair.url(replica_pair.replica_port),
    }
    for name in ("REDIS_URL", "DB_POOL", "DATABASE_POOLER"):
        env.pop(name, None)  # in-process tasks and a plain connection: this is about where SQL goes
    result = subprocess.run(
        [sys.executable, "-m", "tests.scale.replica_slice"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # Two servers: the primary, and a hot standby replaying its WAL.
    assert seen["default_in_recovery"] is False and seen["replica_in_recovery"] is True
    assert seen["default_port"] == str(replica_pair.primary_port)
    assert seen["replica_port"] == str(replica_pair.replica_port)

    report = seen["report"]
    assert report["status"] == 200
    assert "inventory_stocklevel" in report["replica_tables"]  # the report's rows came from the replica
    assert not {t for t in report["primary_tables"] if t.startswith("inventory_")}  # none from the primary
    assert "RP-ITEM" in json.dumps(seen["report_rows"]["rows"]), seen["report_rows"]

    epcis = seen["epcis"]
    assert epcis["status"] == 200 and "inventory_stockmove" in epcis["replica_tables"]
    assert "inventory_stockmove" not in epcis["primary_tables"]

    export = seen["export"]
    assert export["status"] == 200 and "inventory_stockmove" in export["replica_tables"]
    assert "inventory_stockmove" not in export["primary_tables"]

    posting = seen["posting"]
    assert posting["status"] == 201
    assert "inventory_stockmove" in posting["primary_tables"] and "inventory_stocklevel" in posting["primary_tables"]
    assert posting["replica_tables"] == [] and posting["replica_writes"] == []
