"""Partitioned history on PostgreSQL (pg_partman): which tables, their conversion, their upkeep."""

from tracker.partitioning.convert import convert_table
from tracker.partitioning.maintenance import (
    PartitionStatus,
    history_partitions_maintain,
    history_partitions_status,
)
from tracker.partitioning.tables import HISTORY_TABLES, HistoryTable

__all__ = [
    "HISTORY_TABLES",
    "HistoryTable",
    "PartitionStatus",
    "convert_table",
    "history_partitions_maintain",
    "history_partitions_status",
]
