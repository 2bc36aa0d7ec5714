"""Backup and restore with PostgreSQL's own tools: pg_dump the test database,
pg_restore it into a new database, and run ``verify_ledger`` there (a separate
process pointed at the restored copy, as an operator would)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from inventory.models import StockLevel, StockMove
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _pg_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "PGHOST": db["HOST"] or "127.0.0.1",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"] or "postgres",
    }
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        env=kwargs.pop("env", _pg_env()),
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_dump_restore_into_a_new_database_and_verify_the_ledger(tmp_path):
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    site = SiteFactory(code="bk")
    bin1 = LocationFactory(site=site, kind="bin", code="BK-1")
    bin2 = LocationFactory(site=site, kind="bin", code="BK-2")
    receive(ItemFactory(sku="BK-PLAIN"), bin1, 12)
    receive(LotItemFactory(sku="BK-LOT"), bin2, 5, lot_code="L-7")
    moves = StockMove.objects.count()
    levels = sorted(StockLevel.objects.values_list("item__sku", "location__code", "on_hand"))

    source = settings.DATABASES["default"]["NAME"]
    target = f"{source}_restore_{uuid.uuid4().hex[:6]}"
    dump = tmp_path / "shopfloor.dump"
    # What the README says to run, nightly: custom format, compressed, restorable table by table.
    result = _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source])
    assert result.returncode == 0, result.stderr
    assert _run(["createdb", target]).returncode == 0
    try:
        result = _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)])
        assert result.returncode == 0, result.stderr
        url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{target}"))
        env = {**os.environ, "DATABASE_URL": url}
        env.pop("DB_POOL", None)
        verify = _run([sys.executable, "manage.py", "verify_ledger"], env=env, cwd=ROOT)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "Ledger OK" in verify.stdout
        count = _run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from inventory.models import StockMove, StockLevel;"
                "print(StockMove.objects.count());"
                "print(sorted(StockLevel.objects.values_list('item__sku', 'location__code', 'on_hand')))",
            ],
            env=env,
            cwd=ROOT,
        )
        assert count.returncode == 0, count.stderr
        lines = count.stdout.strip().splitlines()
        assert int(lines[-2]) == moves
        assert lines[-1] == str(levels)
    finally:
        _run(["dropdb", "--if-exists", target])
