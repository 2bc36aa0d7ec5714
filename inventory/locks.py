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

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When

from inventory.models import StockLevel
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
    query = _key_q(keys)
    if also is not None:
        query |= also
    # of=("self",): ``also`` may join tracker_location (is_virtual); without it PostgreSQL would lock
    # those location rows too, and two posts of different items at one site could deadlock on them.
    rows = StockLevel.objects.filter(query).order_by("pk").select_for_update(of=("self",))
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
    if len(changes) == 1:
        ((pk, delta),) = changes.items()
        StockLevel.objects.filter(pk=pk).update(on_hand=F("on_hand") + delta)
    else:
        by_pk = Case(
            *(When(pk=pk, then=Value(delta)) for pk, delta in sorted(changes.items())),
            output_field=StockLevel._meta.get_field("on_hand"),
        )
        StockLevel.objects.filter(pk__in=sorted(changes)).update(on_hand=F("on_hand") + by_pk)
    for key, delta in deltas.items():
        if delta != 0:
            levels[key].on_hand += delta  # the in-memory copy mirrors the row for later checks


def apply_reserved(level: StockLevel, delta: Decimal) -> None:
    """Change ``reserved`` of a locked level by ``delta`` with F()."""
    StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + delta)
    level.reserved += delta
