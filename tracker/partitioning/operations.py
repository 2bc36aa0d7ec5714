"""The migration operation that partitions a history table on PostgreSQL.

State-free (a ``RunPython``): the models do not change, so ``makemigrations``
has nothing to say, and SQLite runs it as a no-op.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from tracker.partitioning.convert import convert_table


def PartitionHistoryTable(table: str) -> migrations.RunPython:
    def forwards(apps: Any, schema_editor: Any) -> None:
        convert_table(schema_editor.connection, table)

    # Backwards leaves the table partitioned: it behaves the same for Django.
    return migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)
