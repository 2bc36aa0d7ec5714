"""Turn a plain history table into a pg_partman-managed range-partitioned one.

Runs from the apps' migrations on PostgreSQL only; SQLite (the embedded default)
keeps plain tables and so does a PostgreSQL server without the pg_partman
extension (a warning says so; ``manage.py history_partitions --convert`` does it
later, once the extension is there).

What the conversion guarantees (one transaction: all of it or nothing):

- the rows, their ids and the id sequence carry over, and new ids continue it;
- the primary key becomes ``(id, <partition key>)``, PostgreSQL's rule for a
  partitioned table; Django still treats ``id`` alone as the primary key, which
  holds because every id comes from the one sequence;
- every index, check and foreign key the table had is recreated under its own
  name (so later Django migrations find them); a unique rule that lacks the
  partition key becomes a unique index on each partition (``LocalUnique``);
- foreign keys *into* the table are dropped: PostgreSQL cannot reference part of
  a composite key. The models say so (``db_constraint=False``) and Django still
  applies their ``on_delete``;
- partitions exist from the oldest row's period to ``premake`` periods ahead
  (further for rows dated ahead, up to ``FILL_AHEAD``; rows past that stay in
  the default partition), and pg_partman's maintenance
  (``history_partitions_maintain``) keeps making new ones.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from tracker.partitioning.tables import BY_TABLE, HistoryTable

logger = logging.getLogger(__name__)

PARTMAN_SCHEMA = "partman"
STEP = {"monthly": "1 month", "daily": "1 day"}
FILL_AHEAD = {"monthly": dt.timedelta(days=731), "daily": dt.timedelta(days=92)}
# infinite_time_partitions: keep making partitions ahead even when a table is quiet.
# ignore_default_data: one row dated 2099 in the default partition must not make
# run_maintenance create every partition up to 2099 (pg_partman issue #462; it ran the
# server out of shared memory here).
MAINTENANCE_OPTIONS = "infinite_time_partitions = true, ignore_default_data = true"


def partitioning_enabled(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql" and bool(getattr(settings, "HISTORY_PARTITIONING", True))


def partman_schema(cursor: CursorWrapper) -> str | None:
    """The schema pg_partman is installed in, or None when it is not installed."""
    cursor.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_partman'"
    )
    row = cursor.fetchone()
    return row[0] if row else None


def partman_available(cursor: CursorWrapper) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'")
    return cursor.fetchone() is not None


def ensure_partman(connection: BaseDatabaseWrapper) -> str | None:
    """Install the extension when the server has it; None (and a warning) when it cannot."""
    if not partitioning_enabled(connection):
        return None
    with connection.cursor() as cursor:
        schema = partman_schema(cursor)
        if schema:
            return schema
        if not partman_available(cursor):
            logger.warning(
                "pg_partman is not installed on the PostgreSQL server: history tables stay plain "
                "(install postgresql-<version>-partman, then run manage.py history_partitions --convert)"
            )
            return None
        try:
            # A savepoint: a refused CREATE EXTENSION (not a superuser) must not abort the migration.
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTMAN_SCHEMA}")
                cursor.execute(f"CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA {PARTMAN_SCHEMA}")
        except DatabaseError as exc:
            logger.warning("CREATE EXTENSION pg_partman failed (%s): history tables stay plain", exc)
            return None
        return PARTMAN_SCHEMA


def is_partitioned(cursor: CursorWrapper, table: str) -> bool:
    cursor.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname = %s",
        [table],
    )
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def period_start(value: dt.datetime, interval: str) -> dt.datetime:
    value = value.astimezone(dt.UTC)
    if interval == "monthly":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def convert_table(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Partition ``table`` (see the module docstring). True when it was converted now;
    False when it already was, or when this database keeps plain tables."""
    spec = BY_TABLE[table]
    schema = ensure_partman(connection)
    if schema is None:
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if is_partitioned(cursor, table):
            return False
        _convert(cursor, schema, spec)
    return True


def _convert(cursor: CursorWrapper, schema: str, spec: HistoryTable) -> None:
    table, column = spec.table, spec.column
    cursor.execute("SELECT current_schema()")
    namespace = cursor.fetchone()[0]
    qualified = f"{namespace}.{table}"
    old = f"{table}__unpartitioned"

    # What the table has now, to recreate under the same names.
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid),"
        " ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY(conkey))"
        " FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY contype, conname",
        [qualified],
    )
    constraints: list[tuple[str, str, str, list[str]]] = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s ORDER BY indexname",
        [namespace, table],
    )
    backed = {name for name, kind, _, _ in constraints if kind in ("p", "u")}
    indexes = [(name, ddl) for name, ddl in cursor.fetchall() if name not in backed]
    cursor.execute(
        "SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
        [qualified],
    )
    for name, referencing in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {referencing} DROP CONSTRAINT "{name}"')
    cursor.execute(f'SELECT min("{column}") FROM {qualified}')
    oldest: dt.datetime | None = cursor.fetchone()[0]

    cursor.execute(f"ALTER TABLE {qualified} RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE {qualified} (LIKE {namespace}.{old} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)"
        f' PARTITION BY RANGE ("{column}")'
    )
    start = period_start(oldest, spec.interval).isoformat() if oldest else None
    cursor.execute(
        f"SELECT {schema}.create_parent(p_parent_table := %s, p_control := %s, p_type := 'native',"
        " p_interval := %s, p_premake := %s, p_start_partition := %s)",
        [qualified, column, spec.interval, spec.premake, start],
    )
    cursor.execute(f'SELECT max("{column}") FROM {namespace}.{old}')
    newest: dt.datetime | None = cursor.fetchone()[0]
    if newest is not None:
        # Rows dated ahead (a move booked for next quarter) get their periods now, with every
        # period up to them: maintenance extends from the newest partition, so a gap would
        # never be filled. Past FILL_AHEAD they stay in the default partition (the command
        # reports them): a typo dated 2099 must not make thousands of partitions.
        now = dt.datetime.now(dt.UTC)
        upto = min(newest, now + FILL_AHEAD[spec.interval])
        if upto > now:
            cursor.execute(
                f"SELECT {schema}.create_partition_time(%s, ARRAY(SELECT generate_series("
                "%s::timestamptz, %s::timestamptz, %s::interval)), p_analyze := false)",
                [qualified, period_start(now, spec.interval), period_start(upto, spec.interval), STEP[spec.interval]],
            )
    cursor.execute(f"INSERT INTO {qualified} SELECT * FROM {namespace}.{old}")
    cursor.execute(f"DROP TABLE {namespace}.{old}")

    # Ids: a plain sequence (PostgreSQL 15 has no identity columns on partitioned tables).
    sequence = f"{table}_id_seq"
    cursor.execute(f"CREATE SEQUENCE {namespace}.{sequence} AS bigint OWNED BY {qualified}.id")
    cursor.execute(
        f"SELECT setval('{namespace}.{sequence}', COALESCE((SELECT max(id) FROM {qualified}), 0) + 1, false)"
    )
    cursor.execute(f"ALTER TABLE {qualified} ALTER COLUMN id SET DEFAULT nextval('{namespace}.{sequence}')")

    local = {unique.name: unique for unique in spec.local_uniques}
    for name, kind, definition, columns in constraints:
        if kind == "p":
            cursor.execute(f'ALTER TABLE {qualified} ADD CONSTRAINT "{name}" PRIMARY KEY (id, "{column}")')
        elif kind == "u" and column not in columns:
            if name not in local:
                raise RuntimeError(f"{table}.{name} lacks the partition key and is not declared in LocalUnique")
        else:
            cursor.execute(f'ALTER TABLE {qualified} ADD CONSTRAINT "{name}" {definition}')
    for _name, ddl in indexes:
        cursor.execute(ddl)  # names the table by its name: now the partitioned one
    for unique in spec.local_uniques:
        add_local_unique(cursor, schema, qualified, unique.columns)
    cursor.execute(f"UPDATE {schema}.part_config SET {MAINTENANCE_OPTIONS} WHERE parent_table = %s", [qualified])


def add_local_unique(cursor: CursorWrapper, schema: str, qualified: str, columns: tuple[str, ...]) -> None:
    """A unique index on every partition (the default one too) and on pg_partman's
    template table, from which it copies to each partition it makes later."""
    cols = ", ".join(f'"{c}"' for c in columns)
    cursor.execute(f"SELECT template_table FROM {schema}.part_config WHERE parent_table = %s", [qualified])
    targets = [cursor.fetchone()[0]]
    cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [qualified])
    targets += [row[0] for row in cursor.fetchall()]
    for target in targets:
        cursor.execute(f"CREATE UNIQUE INDEX ON {target} ({cols})")
