"""Keep the partitioned history tables in shape: partitions made ahead, expired ones
detached or dropped. The beat task ``tracker.history_partitions_maintain`` and
``manage.py history_partitions`` call these; on SQLite (or a PostgreSQL without
pg_partman) there is nothing to do and they say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.utils import CursorWrapper

from tracker.partitioning.convert import MAINTENANCE_OPTIONS, is_partitioned, partitioning_enabled, partman_schema
from tracker.partitioning.tables import HISTORY_TABLES, HistoryTable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionStatus:
    key: str
    table: str
    partitioned: bool
    interval: str = ""
    partitions: int = 0
    oldest: str = ""
    newest: str = ""
    default_rows: int = 0  # rows outside every partition's range: should stay 0
    retention: str | None = None
    keep_table: bool = True
    error: str = ""


def retention_for(spec: HistoryTable) -> tuple[str | None, bool]:
    """(retention interval or None, keep expired tables) from HISTORY_PARTITION_RETENTION.

    Stock moves never expire whatever the settings say: ``verify_ledger`` sums the
    whole ledger, and a level without its moves would fail it.
    """
    if spec.key == "stock_moves":
        return None, True
    entry = getattr(settings, "HISTORY_PARTITION_RETENTION", {}).get(spec.key, {})
    return entry.get("retention") or None, bool(entry.get("keep_table", True))


def history_partitions_maintain(*, using: str = DEFAULT_DB_ALIAS) -> list[PartitionStatus]:
    """Apply each table's retention from settings, then run pg_partman's maintenance for it.

    Guarantees: partitions exist ``premake`` periods ahead of now for every partitioned
    table; partitions wholly older than the table's retention are detached (kept as
    plain tables, out of every query) or dropped; one table's failure is logged and
    reported without stopping the others. Idempotent: running it again changes nothing.
    """
    connection = connections[using]
    if not partitioning_enabled(connection):
        return []
    with connection.cursor() as cursor:
        schema = partman_schema(cursor)
    if schema is None:
        return []
    for spec in HISTORY_TABLES:
        try:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                if not is_partitioned(cursor, spec.table):
                    continue
                qualified = _qualified(cursor, spec.table)
                retention, keep_table = retention_for(spec)
                cursor.execute(
                    f"UPDATE {schema}.part_config SET retention = %s, retention_keep_table = %s,"
                    f" premake = %s, {MAINTENANCE_OPTIONS} WHERE parent_table = %s",
                    [retention, keep_table, spec.premake, qualified],
                )
                cursor.execute(
                    f"SELECT {schema}.run_maintenance(p_parent_table := %s, p_analyze := false, p_jobmon := false)",
                    [qualified],
                )
        except Exception:
            logger.exception("history partition maintenance failed for %s", spec.table)
    return history_partitions_status(using=using)


def history_partitions_status(*, using: str = DEFAULT_DB_ALIAS) -> list[PartitionStatus]:
    """What each history table looks like now (plain, or its partitions and default rows)."""
    connection = connections[using]
    statuses: list[PartitionStatus] = []
    schema = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            schema = partman_schema(cursor)
    for spec in HISTORY_TABLES:
        retention, keep_table = retention_for(spec)
        if schema is None:
            statuses.append(PartitionStatus(spec.key, spec.table, False, retention=retention, keep_table=keep_table))
            continue
        with connection.cursor() as cursor:
            if not is_partitioned(cursor, spec.table):
                statuses.append(
                    PartitionStatus(spec.key, spec.table, False, retention=retention, keep_table=keep_table)
                )
                continue
            qualified = _qualified(cursor, spec.table)
            namespace = qualified.split(".", 1)[0]
            cursor.execute(f"SELECT partition_tablename FROM {schema}.show_partitions(%s) ORDER BY 1", [qualified])
            names = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT count(*) FROM {namespace}.{spec.table}_default")
            default_rows = int(cursor.fetchone()[0])
        statuses.append(
            PartitionStatus(
                spec.key,
                spec.table,
                True,
                interval=spec.interval,
                partitions=len(names),
                oldest=names[0] if names else "",
                newest=names[-1] if names else "",
                default_rows=default_rows,
                retention=retention,
                keep_table=keep_table,
            )
        )
    return statuses


def _qualified(cursor: CursorWrapper, table: str) -> str:
    cursor.execute("SELECT current_schema()")
    return f"{cursor.fetchone()[0]}.{table}"
