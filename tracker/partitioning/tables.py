"""Which history tables are partitioned on PostgreSQL, by what and how finely.

Named by table, not by model: the core must not import the apps above it, and
pg_partman works on tables. Each app's migration converts its own tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LocalUnique:
    """A unique rule the model declares that does not contain the partition key.

    PostgreSQL cannot enforce it across partitions, so it becomes a unique index
    on each partition (through pg_partman's template table for new ones): exact
    within a day or month, and the service that relies on it looks the row up
    first, which covers the rest (see the README's "Partitioned history").
    """

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class HistoryTable:
    key: str  # the name used in settings (HISTORY_PARTITION_RETENTION) and the command
    table: str
    column: str  # the partition key: when the row happened, never updated afterwards
    interval: str  # pg_partman 4.x interval: "daily" or "monthly"
    premake: int  # partitions kept ready ahead of now (and made behind it at conversion)
    local_uniques: tuple[LocalUnique, ...] = field(default=())


HISTORY_TABLES: tuple[HistoryTable, ...] = (
    HistoryTable("stock_moves", "inventory_stockmove", "occurred_at", "monthly", 4),
    HistoryTable(
        "reader_uploads",
        "devices_readerupload",
        "received_at",
        "daily",
        7,
        (LocalUnique("upload_once_per_device", ("device_id", "upload_key")),),
    ),
    HistoryTable("sensor_samples", "devices_sensorsample", "observed_at", "daily", 7),
    HistoryTable("audit_events", "tracker_auditevent", "at", "monthly", 4),
    HistoryTable(
        "webhook_deliveries",
        "webhooks_webhookdelivery",
        "created_at",
        "monthly",
        4,
        (LocalUnique("one_delivery_per_endpoint_event", ("endpoint_id", "event_id")),),
    ),
)

BY_KEY: dict[str, HistoryTable] = {spec.key: spec for spec in HISTORY_TABLES}
BY_TABLE: dict[str, HistoryTable] = {spec.table: spec for spec in HISTORY_TABLES}
