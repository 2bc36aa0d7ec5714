"""Row locks on stock levels: the one place that takes them, always in one order.

Every service that changes quantities goes through ``lock_levels()``, once per
transaction with every level key it will change (plus, with ``also``, the rows
it must read under lock, such as all of an item's levels at a site):

1. make sure every key has a row *before taking any row lock*: missing keys are
   inserted with ``INSERT ... ON CONFLICT DO NOTHING``, all in one statement, in
   one stable key order (item, location, lot). A transaction that meets a key
   another one is inserting waits for that one to finish; as both insert in the
   same order and neither holds a level lock yet, the waits cannot form a cycle;
2. lock all the rows in one ``SELECT ... ORDER BY id FOR UPDATE``, so two
   transactions needing overlapping rows queue instead of deadlocking;
3. the caller validates against the locked ``on_hand`` and applies the deltas
   with ``apply_deltas()`` as ``F()`` expressions, never in memory.

Steps 1 and 2 cost one statement when every key already exists (the usual
case): the lock statement locks only if all the keys are there (a scalar count
of the keys' rows gates it), and otherwise locks nothing, so the missing rows
are inserted while this transaction holds no level lock, and then it locks.
Inserting a missing row while holding locks on others (the old order) could
deadlock two transfers into fresh bins: each waited on the other's insert
while holding the rows the other was about to lock.

Only real locations and the in-transit location keep levels. The other
virtual locations (supplier, customer, production, scrap, adjustment) are the
world outside stock: their balance is the ledger sum, and keeping a level row
for them would make every receipt of an item queue on one hot row.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.db.transaction import TransactionManagementError

from inventory.models import StockLevel
from tracker.bound_cursor import bound_cursor
from tracker.models import Location, LocationKind
from tracker.sqlrows import Statement, rows_of

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


def _key_terms(keys: Iterable[LevelKey], alias: str = "") -> tuple[str, list[int]]:
    """``(item = %s AND location = %s AND lot ...) OR ...`` over ``keys`` in key order, and its params."""
    q = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    item, location, lot = (f"{prefix}{q(name)}" for name in ("item_id", "location_id", "lot_id"))
    terms: list[str] = []
    params: list[int] = []
    for item_id, location_id, lot_id in sorted(keys, key=_sort_key):
        if lot_id is None:
            terms.append(f"({item} = %s AND {location} = %s AND {lot} IS NULL)")
            params += [item_id, location_id]
        else:
            terms.append(f"({item} = %s AND {location} = %s AND {lot} = %s)")
            params += [item_id, location_id, lot_id]
    return " OR ".join(terms), params


def _all_there(keys: set[LevelKey]) -> tuple[str, list[int]]:
    """A condition true when every key of ``keys`` has a level row (a scalar count of them)."""
    terms, params = _key_terms(keys, alias="probe")
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    sql = f"(SELECT COUNT(*) FROM {table} probe WHERE {terms}) = %s"  # noqa: S608 - names from the model; values are parameters
    return sql, [*params, len(keys)]


def _lock_if_all_there(keys: set[LevelKey], also: Q | None) -> list[StockLevel] | None:
    """The rows of ``keys`` (and of ``also``) locked in pk order, if every key has a row; else
    None, and nothing locked (the count gates the whole statement, so it takes no lock then).

    Without ``also``: the statement the ORM would send for the same filter, written by hand
    because building it cost more CPU than running it (every posting runs it)."""
    if not keys and also is None:
        return []
    if also is not None:
        query = StockLevel.objects.filter(_key_q(keys) | also)
        if keys:
            gate, gate_params = _all_there(keys)
            query = query.filter(RawSQL(gate, gate_params, output_field=BooleanField()))  # noqa: S611 - built above from the model
        # of=("self",): ``also`` may join tracker_location (is_virtual); without it PostgreSQL would lock
        # those location rows too, and two posts of different items at one site could deadlock on them.
        rows = list(query.order_by("pk").select_for_update(of=("self",)))
        return rows if rows or not keys else None
    model_rows = rows_of(StockLevel)
    q = connection.ops.quote_name
    terms, params = _key_terms(keys)
    gate, gate_params = _all_there(keys)
    lock = ""
    if connection.features.has_select_for_update:
        if connection.get_autocommit():  # as select_for_update() refuses: a lock outside a transaction is none
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        lock = " FOR UPDATE"
    sql = (
        f"SELECT {', '.join(model_rows.quoted)} FROM {model_rows.table} WHERE ({terms}) AND {gate}"  # noqa: S608 - names from the model; values are parameters
        f" ORDER BY {q('id')}{lock}"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [*params, *gate_params])
        found = [model_rows.instance(row) for row in cursor.fetchall()]
    return found or None


def _insert_missing(keys: set[LevelKey], site_ids: dict[int, int]) -> None:
    """Give every key a level row: one ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite: ``INSERT OR
    IGNORE``) in key order. A key another transaction is inserting makes this one wait for it,
    then skip it; the caller holds no level lock here, so that wait cannot close a cycle."""
    StockLevel.objects.bulk_create(
        [
            StockLevel(item_id=item_id, location_id=location_id, lot_id=lot_id, site_id=site_ids[location_id])
            for item_id, location_id, lot_id in sorted(keys, key=_sort_key)
        ],
        ignore_conflicts=True,
    )


def lock_levels(
    keys: Iterable[LevelKey],
    *,
    site_ids: dict[int, int],
    also: Q | None = None,
) -> dict[LevelKey, StockLevel]:
    """Lock (creating if missing) the levels for ``keys`` plus any rows matching ``also``.

    ``site_ids`` maps location id -> site id for rows that may need creating.
    Returns every locked row by key; rows are fresh (read under the lock).

    Guarantees: no row is inserted after a row lock is taken in this call (missing keys are
    inserted first, in key order), and all rows are locked in one statement in pk order. Call
    it once per transaction with every key: a second call that must insert would insert
    while the first call's locks are held.
    """
    keys = set(keys)
    rows = _lock_if_all_there(keys, also)
    if rows is None:
        _insert_missing(keys, site_ids)
        rows = _lock_if_all_there(keys, also)
        if rows is None:  # levels are never deleted: every key has a row now
            raise RuntimeError(f"stock levels {sorted(keys, key=_sort_key)} vanished while being locked")
    return {_key(level): level for level in rows}


def delta_update(levels: dict[LevelKey, StockLevel], deltas: dict[LevelKey, Decimal]) -> Statement | None:
    """The UPDATE ``apply_deltas()`` runs (None when nothing changes), for a caller that sends
    it with another statement (``inventory.services.posting``); then call ``mirror_deltas()``."""
    changes = {levels[key].pk: delta for key, delta in deltas.items() if delta != 0}
    if not changes:
        return None
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
    return sql, params


def mirror_deltas(levels: dict[LevelKey, StockLevel], deltas: dict[LevelKey, Decimal]) -> None:
    """Add ``deltas`` to the in-memory copies, as the UPDATE added them to the rows."""
    for key, delta in deltas.items():
        if delta != 0:
            levels[key].on_hand += delta  # the in-memory copy mirrors the row for later checks


def apply_deltas(levels: dict[LevelKey, StockLevel], deltas: dict[LevelKey, Decimal]) -> None:
    """Change ``on_hand`` of locked levels by ``deltas`` with F(), in one UPDATE.

    The rows are already locked, so one statement for all of them cannot
    deadlock; ``on_hand + CASE id ... END`` still adds to the stored value.
    """
    statement = delta_update(levels, deltas)
    if statement is None:
        return
    with bound_cursor() as cursor:
        cursor.execute(*statement)
    mirror_deltas(levels, deltas)


def apply_reserved(level: StockLevel, delta: Decimal) -> None:
    """Change ``reserved`` of a locked level by ``delta`` with F()."""
    StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + delta)
    level.reserved += delta
