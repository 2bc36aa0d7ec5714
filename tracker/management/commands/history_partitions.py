"""``manage.py history_partitions``: show, convert and maintain the partitioned history tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from tracker.partitioning import (
    HISTORY_TABLES,
    PartitionStatus,
    convert_table,
    history_partitions_maintain,
    history_partitions_status,
)


class Command(BaseCommand):
    help = (
        "Show the partitioned history tables (PostgreSQL with pg_partman). --maintain makes partitions "
        "ahead and expires old ones by HISTORY_PARTITION_RETENTION (what the hourly beat task does); "
        "--convert partitions tables a migration left plain (pg_partman installed since)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--maintain", action="store_true", help="Run the maintenance now.")
        parser.add_argument("--convert", action="store_true", help="Partition the tables that are still plain.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        if connections[using].vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: the history tables are plain tables here; nothing to do.")
            return
        if options["convert"]:
            for spec in HISTORY_TABLES:
                done = convert_table(connections[using], spec.table)
                self.stdout.write(f"{spec.table}: {'converted' if done else 'unchanged'}")
        statuses = history_partitions_maintain(using=using) if options["maintain"] else []
        for status in statuses or history_partitions_status(using=using):
            self.stdout.write(self._line(status))

    @staticmethod
    def _line(status: PartitionStatus) -> str:
        if not status.partitioned:
            return f"{status.table}: plain table (pg_partman missing or HISTORY_PARTITIONING off)"
        retention = status.retention or "kept for ever"
        if status.retention:
            retention += ", then " + ("detached" if status.keep_table else "dropped")
        warn = f"; {status.default_rows} rows in the default partition" if status.default_rows else ""
        return (
            f"{status.table}: {status.partitions} {status.interval} partitions "
            f"{status.oldest} .. {status.newest}; retention {retention}{warn}"
        )
