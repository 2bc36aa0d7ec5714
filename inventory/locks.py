"""Row locks on stock levels: the one place that takes them, always in one order.

Every service that changes quantities goes through ``lock_levels()``:

1. lock the level rows that already exist, ``order_by("pk").select_for_update()``
   (one statement, so two transactions needing overlapping rows queue instead
   of deadlocking);
2. insert the missing rows in a stable key order, each in a savepoint: if a
   concurrent transaction inserted the same key first, the unique constraint
   makes us wait for it and fail, and we lock the row it made instead;
3. the caller validates against the locked ``on_hand`` and applies the
   deltas with ``apply_deltas()`` as ``F()`` expressions, never in memory.

Only real locations and the in-transit location keep levels. The other
virtual locations (supplier, customer, production, scrap, adjustment) are the
world outside stock: their balance is the ledger sum, and keeping a level row
for them would make every receipt of an item queue on one hot row.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.transaction import TransactionManagementError

from inventory.models import StockLevel
from inventory.sqlrows import rows_of
from tracker.models import Location, LocationKind

#: (item_id, location_id, lot_id or None)
LevelKey = tuple[int, int, int | None]


def keeps_level(location: Location) -> bool:
    """Whether ``location`` has materialised levels (real locations and transit)."""
    return not location.is_virtual or location.kind == LocationKind.TRANSIT


def _key_q(keys: Iterable[LevelKey]) -> Q:
    query = Q(pk__in=[])
    for item_id, location_id, lot_id in keys:
        if lot_id is None:
            query |= Q(item_id=item_id, location_id=location_id, lot__isnull=True)
        else:
            query |= Q(item_id=item_id, location_id=location_id, lot_id=lot_id)
    return query


def _key(level: StockLevel) -> LevelKey:
    return (level.item_id, level.location_id, level.lot_id)


def _sort_key(key: LevelKey) -> tuple[int, int, int]:
    return (key[0], key[1], key[2] or 0)


def _lock_existing(keys: set[LevelKey]) -> list[StockLevel]:
    """The existing levels of ``keys``, locked in pk order: the statement the ORM would send for
    ``filter(_key_q(keys)).order_by("pk").select_for_update()``, written by hand because building
    it cost more CPU than running it (every posting runs it)."""
    if not keys:
        return []
    rows = rows_of(StockLevel)
    q = connection.ops.quote_name
    item, location, lot = q("item_id"), q("location_id"), q("lot_id")
    terms, params = [], []
    for item_id, location_id, lot_id in sorted(keys, key=_sort_key):
        if lot_id is None:
            terms.append(f"({item} = %s AND {location} = %s AND {lot} IS NULL)")
            params += [item_id, location_id]
        else:
            terms.append(f"({item} = %s AND {location} = %s AND {lot} = %s)")
            params += [item_id, location_id, lot_id]
    lock = ""
    if connection.features.has_select_for_update:
        if connection.get_autocommit():  # as select_for_update() refuses: a lock outside a transaction is none
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        lock = " FOR UPDATE"
    sql = f"SELECT {', '.join(rows.quoted)} FROM {rows.table} WHERE {' OR '.join(terms)} ORDER BY {q('id')}{lock}"  # noqa: S608 - names from the model; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [rows.instance(row) for row in cursor.fetchall()]


def lock_levels(
    keys: Iterable[LevelKey],
    *,
    site_ids: dict[int, int],
    also: Q | None = None,
) -> dict[LevelKey, StockLevel]:
    """Lock (creating if missing) the levels for ``keys`` plus any rows matching ``also``.

    ``site_ids`` maps location id -> site id for rows that may need creating.
    Returns every locked row by key; rows are fresh (read under the lock).
    """
    keys = set(keys)
    if also is None:
        rows = _lock_existing(keys)
    else:
        # of=("self",): ``also`` may join tracker_location (is_virtual); without it PostgreSQL would lock
        # those location rows too, and two posts of different items at one site could deadlock on them.
        query = _key_q(keys) | also
        rows = list(StockLevel.objects.filter(query).order_by("pk").select_for_update(of=("self",)))
    locked = {_key(level): level for level in rows}
    for key in sorted(keys - locked.keys(), key=_sort_key):
        item_id, location_id, lot_id = key
        try:
            with transaction.atomic():
                level = StockLevel.objects.create(
                    item_id=item_id, location_id=location_id, lot_id=lot_id, site_id=site_ids[location_id]
                )
        except IntegrityError:
            # A concurrent transaction created it (and has committed): lock that row.
            level = StockLevel.objects.select_for_update(of=("self",)).order_by("pk").get(_key_q([key]))
        locked[key] = level
    return locked


def apply_deltas(levels: dict[LevelKey, StockLevel], deltas: dict[LevelKey, Decimal]) -> None:
    """Change ``on_hand`` of locked levels by ``deltas`` with F(), in one UPDATE.

    The rows are already locked, so one statement for all of them cannot
    deadlock; ``on_hand + CASE id ... END`` still adds to the stored value.
    """
    changes = {levels[key].pk: delta for key, delta in deltas.items() if delta != 0}
    if not changes:
        return
    # The statement ``filter(pk__in=...).update(on_hand=F("on_hand") + Case(When(pk=..., then=...)))``
    # sends, written by hand (every posting runs it; building it through the ORM cost more CPU).
    field = StockLevel._meta.get_field("on_hand")
    q = connection.ops.quote_name
    on_hand, pk = q("on_hand"), q("id")
    numeric = field.cast_db_type(connection)
    whens, params = [], []
    for level_pk, delta in sorted(changes.items()):
        whens.append(f"WHEN {pk} = %s THEN CAST(%s AS {numeric})")
        params += [level_pk, field.get_db_prep_save(delta, connection)]
    ids = sorted(changes)
    params += ids
    sql = (
        f"UPDATE {q(StockLevel._meta.db_table)} SET {on_hand} = {on_hand} + CASE {' '.join(whens)} END "  # noqa: S608 - names from the model; values are parameters
        f"WHERE {pk} IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for key, delta in deltas.items():
        if delta != 0:
            levels[key].on_hand += delta  # the in-memory copy mirrors the row for later checks


def apply_reserved(level: StockLevel, delta: Decimal) -> None:
    """Change ``reserved`` of a locked level by ``delta`` with F()."""
    StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + delta)
    level.reserved += delta
