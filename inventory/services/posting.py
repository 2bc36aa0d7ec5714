"""Posting: the only code that writes moves and changes levels (``_post``), and publishing them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from inventory import errors, stock_daily
from inventory.locks import LevelKey, apply_deltas, delta_update, keeps_level, lock_levels, mirror_deltas
from inventory.models import ZERO, Item, Lot, SerialUnit, StockLevel, StockMove
from inventory.services.alerts import _check_reorder
from inventory.services.checks import _check_lot_usable, _existing_serials
from tracker.bound_cursor import bound_cursor
from tracker.models import Location, LocationKind
from tracker.request_context import actor_or_none
from tracker.sqlrows import Statement, column_of, save_params


@dataclasses.dataclass
class _Leg:
    item: Item
    quantity: Decimal
    source: Location
    destination: Location
    lot: Lot | None = None
    serial: SerialUnit | None = None
    external_id: str | None = None  # a document line's own id; else the context's


@dataclasses.dataclass
class _Context:
    kind: str
    reference: str = ""
    reference_type: str = ""
    partner: str = ""
    external_id: str = ""
    note: str = ""
    actor: Any = None
    occurred_at: dt.datetime | None = None
    batch: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)


def _level_keys(legs: Iterable[_Leg]) -> tuple[dict[LevelKey, Decimal], dict[int, int]]:
    """What ``legs`` change: the delta per level key (locations that keep levels only) and each
    such location's site. A service that must lock more than these keys (``also``) gets them here
    and takes every lock in one ``lock_levels`` call before ``_post(preloaded=...)``."""
    deltas: dict[LevelKey, Decimal] = defaultdict(lambda: ZERO)
    site_ids: dict[int, int] = {}
    for leg in legs:
        lot_id = leg.lot.pk if leg.lot else None
        for loc, sign in ((leg.source, -1), (leg.destination, 1)):
            if keeps_level(loc):
                deltas[(leg.item.pk, loc.pk, lot_id)] += sign * leg.quantity
                site_ids[loc.pk] = loc.site_id
    return deltas, site_ids


def _post(
    legs: list[_Leg],
    ctx: _Context,
    *,
    lock_also: Q | None = None,
    preloaded: dict[LevelKey, StockLevel] | None = None,
) -> list[StockMove]:
    """Lock, check no real level goes negative, write moves and level deltas.

    ``preloaded``: the levels the caller already locked with ``lock_levels``; they should
    include every key of ``legs`` (``_level_keys``), as a second lock call that must insert a
    missing row would insert while the first call's locks are held."""
    if not legs:
        return []
    deltas, site_ids = _level_keys(legs)
    levels = preloaded if preloaded is not None else lock_levels(deltas.keys(), site_ids=site_ids, also=lock_also)
    if preloaded is not None:
        missing = [k for k in deltas if k not in levels]
        if missing:
            # Only when the caller could not know the keys in advance (a picking's destination
            # in a real location): existing rows lock at once; a missing one is inserted here.
            levels.update(lock_levels(missing, site_ids=site_ids))
    items = {leg.item.pk: leg.item for leg in legs}
    locations = {loc.pk: loc for leg in legs for loc in (leg.source, leg.destination)}
    for key, delta in deltas.items():
        item, location = items[key[0]], locations[key[1]]
        if delta < 0 and not location.is_virtual and not item.allow_negative:
            if levels[key].on_hand + delta < 0:
                raise errors.InsufficientStock(
                    f"Only {levels[key].on_hand.normalize():f} {item.unit} of {item.sku} at {location.code}"
                    f" (need {(-delta).normalize():f}).",
                    field="quantity",
                    available=str(levels[key].on_hand),
                )
    now = timezone.now()
    occurred = ctx.occurred_at or now
    if timezone.is_naive(occurred):
        raise errors.InventoryError("occurred_at must carry a time zone.", field="occurred_at")
    moves = _write(
        [
            StockMove(
                kind=ctx.kind,
                item=leg.item,
                quantity=leg.quantity,
                source=leg.source,
                destination=leg.destination,
                lot=leg.lot,
                serial=leg.serial,
                reference=ctx.reference,
                reference_type=ctx.reference_type,
                partner=ctx.partner,
                external_id=ctx.external_id if leg.external_id is None else leg.external_id,
                batch=ctx.batch,
                occurred_at=occurred,
                recorded_at=now,
                actor=actor_or_none(ctx.actor),
                note=ctx.note,
            )
            for leg in legs
        ],
        levels,
        deltas,
        locations,
    )
    touched: set[tuple[int, int]] = set()
    for leg in legs:
        for loc in (leg.source, leg.destination):
            if not loc.is_virtual:
                touched.add((leg.item.pk, loc.site_id))
    for item_id, site_id in sorted(touched):
        _check_reorder(item=items[item_id], site_id=site_id)
    _broadcast_moves(moves, locations)
    return moves


@functools.cache
def _move_insert(vendor: str) -> tuple[list[Any], str, str]:
    """The moves' columns, the INSERT's head and one row's placeholders (per database vendor)."""
    fields = [f for f in StockMove._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    columns = ", ".join(q(column_of(f)) for f in fields)
    head = f"INSERT INTO {q(StockMove._meta.db_table)} ({columns}) VALUES "  # noqa: S608 - names from the model
    return fields, head, "(" + ", ".join(["%s"] * len(fields)) + ")"


def _write(
    moves: list[StockMove],
    levels: dict[LevelKey, StockLevel],
    deltas: dict[LevelKey, Decimal],
    locations: dict[int, Location],
) -> list[StockMove]:
    """Write ``moves`` (each gets its id), add ``deltas`` to the locked ``levels`` and the
    moves' flows to the daily rollup: on PostgreSQL one statement, the level UPDATE and the
    rollup's INSERT as data-modifying ``WITH`` queries of the moves' INSERT (PostgreSQL runs
    each to completion, in the same snapshot; they touch three different tables), elsewhere
    three statements."""
    if connection.vendor != "postgresql":
        moves = StockMove.objects.bulk_create(moves)
        apply_deltas(levels, deltas)
        stock_daily.record_post(moves, locations)
        return moves
    also = [s for s in (delta_update(levels, deltas), stock_daily.post_rows(moves, locations)) if s is not None]
    _insert_moves(moves, also)
    mirror_deltas(levels, deltas)
    return moves


def _insert_moves(moves: list[StockMove], also: list[Statement]) -> None:
    """Insert ``moves`` in one statement, with ``also`` as its ``WITH`` queries, and give each
    move its id, as ``bulk_create`` would (PostgreSQL only).

    The INSERT is written here and bound by the server (``bound_cursor``): ``bulk_create``
    spent more CPU building and quoting it than PostgreSQL spent running it (a quarter of a
    10-line receipt)."""
    fields, head, row = _move_insert(connection.vendor)
    params: list[Any] = [p for _, ps in also for p in ps]
    params += save_params(fields, ([getattr(move, f.attname) for f in fields] for move in moves))
    with_ = ("WITH " + ", ".join(f"also_{i} AS ({sql})" for i, (sql, _) in enumerate(also)) + " ") if also else ""
    sql = f"{with_}{head}{', '.join([row] * len(moves))} RETURNING {connection.ops.quote_name('id')}"
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall()
    for move, (pk,) in zip(moves, ids, strict=True):  # in VALUES order, as bulk_create assumes on PostgreSQL
        move.pk = pk
        move._state.adding = False
        move._state.db = connection.alias


def _broadcast_moves(moves: list[StockMove], locations: dict[int, Location]) -> None:
    by_site: dict[int, dict[str, Any]] = {}
    for move in moves:
        for loc_id in (move.source_id, move.destination_id):
            loc = locations[loc_id]
            if loc.is_virtual and loc.kind != LocationKind.TRANSIT:
                continue
            entry = by_site.setdefault(loc.site_id, {"items": set(), "locations": set(), "moves": []})
            entry["items"].add(move.item.sku)
            entry["locations"].add(loc.code)
            if move.pk not in entry["moves"]:
                entry["moves"].append(move.pk)
    for site_id, entry in by_site.items():
        _publish(
            site_id=site_id,
            type="stock.changed",
            data={
                "items": sorted(entry["items"]),
                "locations": sorted(entry["locations"]),
                "moves": entry["moves"][:50],
            },
        )


def _resolve_serial_lot_legs(
    *,
    item: Item,
    qty: Decimal,
    source: Location,
    destination: Location,
    lot: Lot | None,
    serials: Sequence[Any] | None,
) -> tuple[list[_Leg], list[SerialUnit]]:
    """Legs for an outbound move of a serial-tracked item: one per serial."""
    units = _existing_serials(item, serials or [], source=source, lot=lot)
    for unit in units:
        if unit.lot is not None:
            _check_lot_usable(unit.lot, field="serials")
    return [_Leg(item, Decimal(1), source, destination, unit.lot, unit) for unit in units], units


def _set_serials(units: Iterable[SerialUnit], *, location: Location, status: str) -> None:
    ids = [u.pk for u in units]
    if ids:
        SerialUnit.objects.filter(pk__in=ids).update(location=location, status=status, updated_at=timezone.now())
        for u in units:
            u.location, u.status = location, status


def _publish(**event: Any) -> None:
    """``tracker.realtime.broadcast`` looked up on the package at call time, so a test that patches
    ``inventory.services.broadcast`` sees what every module of the package publishes."""
    from inventory import services

    services.broadcast(**event)
