"""For tests that check which partitions a statement reads (README "Partitioned history")."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tracker.partitioning.convert import partman_schema


def require_partman(table: str) -> None:
    """Skip the test, with the reason, unless ``table`` can be partitioned here: PostgreSQL
    with pg_partman (SQLite and a server without the extension keep plain tables)."""
    if connection.vendor != "postgresql":
        pytest.skip(f"the {table} table is partitioned on PostgreSQL only")
    with connection.cursor() as cursor:
        if partman_schema(cursor) is None:
            pytest.skip("pg_partman is not installed on this PostgreSQL server (.ci/run installs it)")


def partitions_read(table: str, sql: str) -> set[str]:
    """The partitions of ``table`` that the plan of ``sql`` reads, by their suffix
    (``p2026_03_01`` for a day, ``p2026_03`` for a month, ``default``). Runs only ``EXPLAIN``."""
    pattern = re.compile(rf"\b{re.escape(table)}_(p\d{{4}}_\d{{2}}(?:_\d{{2}})?|default)\b")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return set(pattern.findall(plan))


def statements_on(table: str, queries: list[dict]) -> list[str]:
    """The captured statements (``CaptureQueriesContext.captured_queries``) that read or change ``table``."""
    return [
        q["sql"]
        for q in queries
        if table in q["sql"] and q["sql"].lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
    ]
