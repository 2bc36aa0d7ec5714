"""Partitioned history (tracker/partitioning): the migrations made range partitions with
pg_partman on PostgreSQL; the maintenance makes partitions ahead and expires old ones by
the settings; SQLite keeps plain tables and the command and task say there is nothing to do."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tracker import tasks
from tracker.models import AuditEvent
from tracker.partitioning import HISTORY_TABLES, history_partitions_maintain, history_partitions_status
from tracker.partitioning.convert import partman_schema
from tracker.partitioning.maintenance import retention_for
from tracker.partitioning.tables import BY_KEY
from tracker.schedule import BEAT_SCHEDULE

pytestmark = pytest.mark.django_db

NO_PARTMAN = (
    "pg_partman is not installed on this PostgreSQL server "
    "(apt-get install postgresql-15-partman; .ci/run installs it): history tables stay plain"
)


@pytest.fixture
def partman() -> str:
    with connection.cursor() as cursor:
        schema = partman_schema(cursor)
    if schema is None:
        pytest.skip(NO_PARTMAN)
    return schema


def sql(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def partitions(table: str) -> list[str]:
    return [
        name
        for (name,) in sql(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass ORDER BY 1", [table]
        )
    ]


def table_exists(name: str) -> bool:
    return bool(sql("SELECT 1 FROM pg_class WHERE relname = %s AND relkind IN ('r', 'p')", [name]))


@pytest.mark.postgres
def test_every_history_table_is_range_partitioned_with_its_key_in_the_primary_key(partman):
    for spec in HISTORY_TABLES:
        assert sql("SELECT relkind FROM pg_class WHERE relname = %s", [spec.table]) == [("p",)], spec.table
        (pk,) = sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            [spec.table],
        )
        assert pk == (f"PRIMARY KEY (id, {spec.column})",)
        # Partitions behind and ahead of now, plus the default one, all attached.
        children = partitions(spec.table)
        assert f"{spec.table}_default" in children
        assert len(children) >= spec.premake + 2
        # Nothing references a partitioned table (the models say db_constraint=False).
        assert sql("SELECT conname FROM pg_constraint WHERE confrelid = %s::regclass", [spec.table]) == []


@pytest.mark.postgres
def test_a_unique_rule_without_the_partition_key_is_a_unique_index_on_every_partition(partman):
    for spec in (BY_KEY["reader_uploads"], BY_KEY["webhook_deliveries"]):
        (unique,) = spec.local_uniques
        for child in partitions(spec.table):
            found = sql(
                "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary"
                " GROUP BY i.indexrelid HAVING array_agg(a.attname::text ORDER BY a.attname) = %s",
                [child, sorted(unique.columns)],
            )
            assert found, f"{child} lacks {unique.name}"


@pytest.mark.postgres
def test_new_ids_continue_one_sequence_and_django_still_finds_rows_by_id(partman):
    first = AuditEvent.objects.create(action="test.one")
    second = AuditEvent.objects.create(action="test.two")
    assert second.pk > first.pk
    assert AuditEvent.objects.get(pk=first.pk).action == "test.one"


@pytest.mark.postgres
def test_maintenance_makes_the_partitions_ahead_again(partman):
    table = BY_KEY["audit_events"].table
    newest = max(name for name in partitions(table) if not name.endswith("_default"))
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {newest}")
        cursor.execute(f"DROP TABLE {newest}")
    assert newest not in partitions(table)

    statuses = history_partitions_maintain()

    assert newest in partitions(table)
    # A new partition made by pg_partman carries the per-partition unique index too.
    uploads = BY_KEY["reader_uploads"].table
    newest_upload = max(name for name in partitions(uploads) if not name.endswith("_default"))
    assert sql(
        "SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s", [newest_upload, "%UNIQUE%upload_key%"]
    )
    assert {s.table for s in statuses if s.partitioned} == {spec.table for spec in HISTORY_TABLES}
    assert all(s.default_rows == 0 for s in statuses)


@pytest.mark.postgres
@override_settings(
    HISTORY_PARTITION_RETENTION={
        "audit_events": {"retention": "1 month", "keep_table": True},
        "sensor_samples": {"retention": "2 days", "keep_table": False},
    }
)
def test_retention_detaches_or_drops_the_partitions_older_than_the_setting(partman):
    audit = BY_KEY["audit_events"].table
    samples = BY_KEY["sensor_samples"].table
    now = timezone.now()
    old_month = (now.replace(day=1) - dt.timedelta(days=70)).strftime("p%Y_%m")
    old_day = (now - dt.timedelta(days=5)).strftime("p%Y_%m_%d")
    assert f"{audit}_{old_month}" in partitions(audit)
    assert f"{samples}_{old_day}" in partitions(samples)
    event = AuditEvent.objects.create(action="test.old")
    AuditEvent.objects.filter(pk=event.pk).update(at=now - dt.timedelta(days=70))  # moves it to that partition

    history_partitions_maintain()

    # Detached: out of the table (and every query), kept as a table of its own.
    assert f"{audit}_{old_month}" not in partitions(audit)
    assert table_exists(f"{audit}_{old_month}")
    assert not AuditEvent.objects.filter(pk=event.pk).exists()
    assert sql(f"SELECT action FROM {audit}_{old_month}") == [("test.old",)]
    # Dropped.
    assert f"{samples}_{old_day}" not in partitions(samples)
    assert not table_exists(f"{samples}_{old_day}")
    # The current periods stay.
    assert f"{audit}_{now:p%Y_%m}" in partitions(audit)
    assert f"{samples}_{now:p%Y_%m_%d}" in partitions(samples)


@override_settings(HISTORY_PARTITION_RETENTION={"stock_moves": {"retention": "1 day", "keep_table": False}})
def test_stock_moves_never_expire_whatever_the_settings_say():
    # verify_ledger sums the whole ledger: a level without its moves would fail it.
    assert retention_for(BY_KEY["stock_moves"]) == (None, True)


def test_defaults_keep_the_plants_records_and_expire_the_bulk():
    assert retention_for(BY_KEY["audit_events"]) == (None, True)
    assert retention_for(BY_KEY["reader_uploads"]) == ("90 days", True)
    assert retention_for(BY_KEY["webhook_deliveries"]) == ("90 days", True)
    assert retention_for(BY_KEY["sensor_samples"]) == ("400 days", True)


@pytest.mark.postgres
def test_the_command_lists_each_table_and_runs_the_maintenance(partman):
    out = io.StringIO()
    call_command("history_partitions", "--maintain", stdout=out)
    text = out.getvalue()
    for spec in HISTORY_TABLES:
        assert f"{spec.table}: " in text
    assert "inventory_stockmove: " in text and "monthly partitions" in text
    assert "devices_readerupload: " in text and "daily partitions" in text
    assert "retention 90 days, then detached" in text


def test_the_beat_schedule_runs_the_maintenance_hourly():
    entry = BEAT_SCHEDULE["history-partitions-maintain"]
    assert entry["task"] == tasks.history_partitions_maintain.name
    assert entry["schedule"] == 3600.0


def test_on_sqlite_the_tables_stay_plain_and_there_is_nothing_to_do():
    if connection.vendor == "postgresql":
        pytest.skip("the embedded default's behaviour (SQLite)")
    assert tasks.history_partitions_maintain() == 0
    assert not any(s.partitioned for s in history_partitions_status())
    out = io.StringIO()
    call_command("history_partitions", "--maintain", stdout=out)
    assert "nothing to do" in out.getvalue()


@pytest.mark.postgres
def test_a_row_dated_far_ahead_stays_in_the_default_partition_and_maintenance_goes_on(partman):
    # pg_partman would otherwise make every month up to the row's (issue #462): it ran the
    # server out of shared memory on a move dated 2099.
    audit = BY_KEY["audit_events"].table
    before = partitions(audit)
    event = AuditEvent.objects.create(action="test.typo")
    AuditEvent.objects.filter(pk=event.pk).update(at=dt.datetime(2099, 6, 1, tzinfo=dt.UTC))

    statuses = history_partitions_maintain()

    assert partitions(audit) == before
    (status,) = [s for s in statuses if s.table == audit]
    assert status.default_rows == 1
    assert AuditEvent.objects.get(pk=event.pk).action == "test.typo"
