"""Bulk reads and writes of tag states and unknown tags, a few statements per upload.

On PostgreSQL the writes are single ``UPDATE ... FROM unnest(...)`` and
``INSERT ... ON CONFLICT`` statements with array parameters: one round trip and
no per-row SQL for hundreds of tags. Other databases (the embedded SQLite
default) take the equivalent ORM bulk operations.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

from devices.models import Tag, TagAssignment, TagState, UnknownTag


@dataclass(slots=True)
class StateRow:
    """A tag state as the pipeline handles it: times in ms since the epoch (the
    arbitration's unit), so nothing is converted back and forth per tag."""

    tag_pk: int
    location_id: int | None
    since: int | None
    last_seen: int | None
    arbitration: dict
    missing_since: int | None


def _ms(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _dt(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


# Times travel as epoch milliseconds both ways on PostgreSQL (integers are cheap to send and read).
_MS = "(extract(epoch from {}) * 1000)::bigint"
_STATE_SELECT = (
    f"s.location_id, {_MS.format('s.since')}, {_MS.format('s.last_seen_at')}, s.arbitration::text, "
    f"{_MS.format('s.missing_since')}"
)


_STATE_COLUMNS = ("tag_id", "location_id", "since", "last_seen_at", "arbitration", "missing_since")


def is_pg() -> bool:
    return connection.vendor == "postgresql"


_pg = is_pg


def load_tags_locked(
    *, site_id: int, tag_ids: list[str]
) -> tuple[dict[str, int], dict[int, StateRow], dict[int, tuple]]:
    """PostgreSQL, one statement: the tags of ``site`` among ``tag_ids`` that have a
    state, their states locked in pk order (FOR UPDATE OF the state rows only) and
    their current assignments."""
    sql = (
        f"SELECT t.tag_id, t.id, {_STATE_SELECT}, "  # noqa: S608
        "a.target_kind, a.code, a.serial_id, a.lot_id, a.work_order_id "
        f'FROM "{Tag._meta.db_table}" t JOIN "{TagState._meta.db_table}" s ON s.tag_id = t.id '
        f'LEFT JOIN "{TagAssignment._meta.db_table}" a ON a.tag_id = t.id AND a.valid_to IS NULL '
        "WHERE t.site_id = %s AND t.tag_id = ANY(%s::text[]) ORDER BY t.id FOR UPDATE OF s"
    )
    tags: dict[str, int] = {}
    states: dict[int, StateRow] = {}
    assignments: dict[int, tuple] = {}
    loads = json.loads
    with connection.cursor() as cursor:
        cursor.execute(sql, [site_id, tag_ids])
        for tag_id, pk, location, since, seen, arb, missing, kind, code, serial, lot, order in cursor.fetchall():
            tags[tag_id] = pk
            states[pk] = StateRow(pk, location, since, seen, loads(arb), missing)
            if kind is not None:
                assignments[pk] = (kind, code, serial, lot, order)
    return tags, states, assignments


def lock_states(*, site_id: int, tag_pks: list[int]) -> dict[int, StateRow]:
    """The tags' states, locked in pk order; rows are created first for new tags."""
    pks = sorted(tag_pks)

    def select(ids: list[int]) -> dict[int, StateRow]:
        if _pg():
            # One array parameter instead of an IN list of hundreds; the JSON is decoded once, here.
            sql = (
                f"SELECT s.tag_id, {_STATE_SELECT} "  # noqa: S608
                f'FROM "{TagState._meta.db_table}" s WHERE s.tag_id = ANY(%s::bigint[]) ORDER BY s.tag_id FOR UPDATE'
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [ids])
                return {r[0]: StateRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in cursor.fetchall()}
        rows = TagState.objects.filter(pk__in=ids).order_by("pk").select_for_update().values_list(*_STATE_COLUMNS)
        return {r[0]: StateRow(r[0], r[1], _ms(r[2]), _ms(r[3]), r[4], _ms(r[5])) for r in rows}

    states = select(pks)
    missing = [pk for pk in pks if pk not in states]
    if missing:
        TagState.objects.bulk_create(
            [TagState(tag_id=pk, site_id=site_id) for pk in missing], ignore_conflicts=True, batch_size=2000
        )
        states.update(select(missing))
    return states


def tag_pks(*, site_id: int, tag_ids: list[str]) -> dict[str, int]:
    """{tag id: Tag pk} of the tags of ``site`` among ``tag_ids``."""
    if _pg():
        sql = f'SELECT tag_id, id FROM "{Tag._meta.db_table}" WHERE site_id = %s AND tag_id = ANY(%s::text[])'  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [site_id, tag_ids])
            return dict(cursor.fetchall())
    return dict(Tag.objects.filter(site_id=site_id, tag_id__in=tag_ids).values_list("tag_id", "pk"))


def current_assignments(*, tag_pks: list[int]) -> list[tuple]:
    """(tag pk, target kind, code, serial, lot, work order) of the tags' current assignments."""
    if _pg():
        sql = (
            "SELECT tag_id, target_kind, code, serial_id, lot_id, work_order_id "  # noqa: S608
            f'FROM "{TagAssignment._meta.db_table}" WHERE tag_id = ANY(%s::bigint[]) AND valid_to IS NULL'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [tag_pks])
            return cursor.fetchall()
    return list(
        TagAssignment.objects.filter(tag_id__in=tag_pks, valid_to__isnull=True).values_list(
            "tag_id", "target_kind", "code", "serial_id", "lot_id", "work_order_id"
        )
    )


def write_states(*, states: list[StateRow], device_id: int, now: dt.datetime) -> None:
    """Write back the states of the tags an upload saw (their rows exist: see lock_states)."""
    if not states:
        return
    if _pg():
        table = TagState._meta.db_table
        sql = (
            f'UPDATE "{table}" AS s SET location_id = v.location_id, '  # noqa: S608 - table name from the model
            "since = to_timestamp(v.since / 1000.0), last_seen_at = to_timestamp(v.last_seen / 1000.0), "
            "arbitration = v.arbitration::jsonb, missing_since = to_timestamp(v.missing_since / 1000.0), "
            "last_device_id = %s, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[]) "
            "AS v(tag_id, location_id, since, last_seen, arbitration, missing_since) "
            "WHERE s.tag_id = v.tag_id"
        )
        rows = sorted(states, key=lambda r: r.tag_pk)
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        params: list[Any] = [
            device_id,
            now,
            [r.tag_pk for r in rows],
            [r.location_id for r in rows],
            [r.since for r in rows],
            [r.last_seen for r in rows],
            [dumps(r.arbitration) for r in rows],
            [r.missing_since for r in rows],
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    TagState.objects.bulk_update(
        [
            TagState(
                tag_id=r.tag_pk,
                location_id=r.location_id,
                since=_dt(r.since),
                last_seen_at=_dt(r.last_seen),
                arbitration=r.arbitration,
                missing_since=_dt(r.missing_since),
                last_device_id=device_id,
                updated_at=now,
            )
            for r in states
        ],
        ["location", "since", "last_seen_at", "arbitration", "missing_since", "last_device", "updated_at"],
        batch_size=500,
    )


def upsert_unknown(*, site_id: int, device_id: int, seen: dict[int, tuple[dt.datetime, int, int | None]]) -> None:
    """Record sightings of unassigned tags: {tag pk: (seen at, reads, zone or None)}."""
    if not seen:
        return
    pks = sorted(seen)
    if _pg():
        table = UnknownTag._meta.db_table
        sql = (
            f'INSERT INTO "{table}" (tag_id, site_id, first_seen_at, last_seen_at, reads, last_location_id, '  # noqa: S608
            "last_device_id) SELECT v.tag_id, %s, v.seen, v.seen, v.reads, v.location_id, %s "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], %s::bigint[]) AS v(tag_id, seen, reads, "
            "location_id) "
            "ON CONFLICT (tag_id) DO UPDATE SET reads = t.reads + EXCLUDED.reads, "
            "first_seen_at = LEAST(t.first_seen_at, EXCLUDED.first_seen_at), "
            "last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at), "
            "last_location_id = COALESCE(EXCLUDED.last_location_id, t.last_location_id), "
            "last_device_id = EXCLUDED.last_device_id"
        ).replace(f'INTO "{table}"', f'INTO "{table}" AS t')
        params: list[Any] = [
            site_id,
            device_id,
            pks,
            [seen[p][0] for p in pks],
            [seen[p][1] for p in pks],
            [seen[p][2] for p in pks],
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    existing = {u.pk: u for u in UnknownTag.objects.filter(pk__in=pks).order_by("pk").select_for_update()}
    rows = []
    for pk in pks:
        seen_at, reads, zone = seen[pk]
        row = existing.get(pk) or UnknownTag(
            tag_id=pk, site_id=site_id, first_seen_at=seen_at, last_seen_at=seen_at, reads=0
        )
        row.reads = (row.reads or 0) + reads
        row.last_seen_at = max(row.last_seen_at, seen_at)
        row.first_seen_at = min(row.first_seen_at, seen_at)
        if zone is not None:
            row.last_location_id = zone
        row.last_device_id = device_id
        rows.append(row)
    UnknownTag.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tag"],
        update_fields=["first_seen_at", "last_seen_at", "reads", "last_location", "last_device"],
        batch_size=2000,
    )
