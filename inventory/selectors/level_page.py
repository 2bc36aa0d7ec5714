"""The levels list in its default order, in plain SQL: the hottest read partners poll.

``StockLevelViewSet.list`` answers the rows of ``level_rows(site_ids=..., filters=...)``
when the request asks for the default order (no ``ordering``): the same scoping, filters,
order, columns and count as its ORM path, written as the SQL the ORM writes for it (same
joins, same conditions, the vendor's own ``LIKE`` for the subtree). Building that query
through the ORM (restrict, five filters, ``values_list``, ``order_by``, a slice and a
count, each cloning the query) cost about three times running it: 0.7 ms of a 50-row
page's CPU. ``inventory/tests/test_level_page.py`` holds the two paths to the same answers.

Scoping is decided by ``tracker.scoping.scope_site_ids`` (what ``restrict(user, "view")``
decides; a level's sites are its ``site_id``, ``StockLevel.site_path``); the filter values
are ``StockLevelFilter``'s validated ones. ``LevelRows`` is what DRF's paginator needs:
``count()`` and a slice, each one query (none when nothing can match).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, models

from inventory.models import Item, Lot, StockLevel
from tracker.models import Location, Site
from tracker.scoping import scope_site_ids
from tracker.selectors import location_path

#: The shown columns, in ``inventory.api.serializers.LEVEL_COLUMNS`` order.
_SELECT = ("sl.id", "i.sku", "i.unit", "s.code", "l.code", "lot.code", "sl.on_hand", "sl.reserved", "sl.updated_at")
#: The ORM's default order for the list (``StockLevelViewSet.queryset``).
_ORDER = "l.path ASC, i.sku ASC, lot.code ASC, sl.id ASC"


@dataclasses.dataclass(frozen=True)
class LevelFilters:
    """``StockLevelFilter``'s values (None: not filtered); ``within`` is the root's path."""

    item: str | None = None
    location: str | None = None
    site: str | None = None
    lot: str | None = None
    within: str | None = None
    nonzero: bool | None = None


# The names are the default database's, quoted once per process (its backend does not change
# while it runs): a page's query names nineteen of them, each a look-up of the connection.
_quoted: dict[tuple[type[Any], str | None], str] = {}


def _table(model: type[Any]) -> str:
    found = _quoted.get((model, None))
    if found is None:
        found = _quoted[(model, None)] = connection.ops.quote_name(model._meta.db_table)
    return found


def _column(model: type[Any], name: str) -> str:
    found = _quoted.get((model, name))
    if found is None:
        found = _quoted[(model, name)] = connection.ops.quote_name(model._meta.get_field(name).column)
    return found


def _startswith(column: str) -> str:
    """The vendor's ``__startswith`` condition on a CharField, as the ORM writes it."""
    operator = connection.operators["startswith"] % "%s"  # type: ignore[attr-defined]  # every backend has one; not in the stubs
    return f"{connection.ops.lookup_cast('startswith', 'CharField') % column} {operator}"


def _like_prefix(value: str) -> str:
    return f"{connection.ops.prep_for_like_query(value)}%"


class LevelRows:
    """The rows ``site_ids`` (None: every site) and ``filters`` select, counted and sliced
    like a ``values_list()`` queryset of ``LEVEL_COLUMNS``."""

    ordered = True  # read by Django's Paginator

    def __init__(self, *, site_ids: tuple[int, ...] | None, filters: LevelFilters) -> None:
        self.empty = site_ids == ()
        conditions: list[str] = []
        params: list[Any] = []
        joins: dict[str, str] = {}
        level = "sl"

        def join(alias: str, model: type[Any], fk: str, *, outer: bool = False) -> None:
            kind = "LEFT OUTER JOIN" if outer else "INNER JOIN"
            on = f"{level}.{_column(StockLevel, fk)} = {alias}.{_column(model, 'id')}"
            joins[alias] = f"{kind} {_table(model)} {alias} ON ({on})"

        if site_ids is not None and site_ids:
            conditions.append(f"{level}.{_column(StockLevel, 'site')} IN ({', '.join(['%s'] * len(site_ids))})")
            params.extend(site_ids)
        if filters.location is not None or filters.within is not None:
            join("l", Location, "location")
        if filters.location is not None:
            conditions.append(f"l.{_column(Location, 'code')} = %s")
            params.append(filters.location)
        if filters.within is not None:
            conditions.append(_startswith(f"l.{_column(Location, 'path')}"))
            params.append(_like_prefix(filters.within))
        if filters.item is not None:
            join("i", Item, "item")
            conditions.append(f"i.{_column(Item, 'sku')} = %s")
            params.append(filters.item)
        if filters.site is not None:
            join("s", Site, "site")
            conditions.append(f"s.{_column(Site, 'code')} = %s")
            params.append(filters.site)
        if filters.lot is not None:
            join("lot", Lot, "lot")  # an inner join, as the ORM's filter on a nullable relation
            conditions.append(f"lot.{_column(Lot, 'code')} = %s")
            params.append(filters.lot)
        if filters.nonzero:
            on_hand, reserved = _column(StockLevel, "on_hand"), _column(StockLevel, "reserved")
            conditions.append(f"NOT ({level}.{on_hand} = %s AND {level}.{reserved} = %s)")
            params.extend([0, 0])
        self.where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        self.params = params
        self.count_joins = " ".join(joins.values())
        # The page shows every related column: all four joins, the lot's an outer one unless filtered.
        join("l", Location, "location")
        join("i", Item, "item")
        join("s", Site, "site")
        if "lot" not in joins:
            join("lot", Lot, "lot", outer=True)
        self.page_joins = " ".join(joins[a] for a in ("l", "i", "s", "lot"))
        self._count: int | None = None
        self._window: tuple[int, int] | None = None
        #: (start, stop, rows) of the page fetched with the count
        self._fetched: tuple[int, int, list[tuple[Any, ...]]] | None = None

    def expect(self, window: tuple[int, int] | None) -> None:
        """The (start, stop) slice the page will read (None: not known): ``count()`` then
        fetches it and the count together."""
        self._window = window

    def count(self) -> int:
        if self.empty:
            return 0
        if self._count is None and self._window is not None:
            # One query for the count and the expected page: the page's query sorts every
            # matching row anyway, and COUNT(*) OVER () counts them before the LIMIT.
            start, stop = self._window
            rows = self._select(start, stop, with_count=True)
            if rows or start == 0:  # (past the end no row carries the count: ask for it)
                self._count = int(rows[0][-1]) if rows else 0
                self._fetched = (start, stop, [row[:-1] for row in rows])
        if self._count is None:
            sql = f"SELECT COUNT(*) FROM {_table(StockLevel)} sl {self.count_joins}{self.where}"  # noqa: S608 - names from the models' metadata, values as parameters
            with connection.cursor() as cursor:
                cursor.execute(sql, self.params)
                self._count = int(cursor.fetchone()[0])
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("LevelRows only slices")
        start, stop = int(index.start or 0), index.stop
        if self.empty or (stop is not None and int(stop) <= start):
            return []
        if self._fetched is not None:
            at, until, rows = self._fetched
            # The fetched page, or the part of it the paginator keeps (its last page ends at the count).
            if start == at and stop is not None and (int(stop) <= until or len(rows) < until - at):
                return rows[: int(stop) - start]
        return self._select(start, None if stop is None else int(stop))

    def _select(self, start: int, stop: int | None, *, with_count: bool = False) -> list[tuple[Any, ...]]:
        limit = f" LIMIT {stop - start}" if stop is not None else ""
        offset = f" OFFSET {start}" if start else ""
        total = ", COUNT(*) OVER ()" if with_count else ""
        sql = (
            f"SELECT {', '.join(_SELECT)}{total} FROM {_table(StockLevel)} sl {self.page_joins}"  # noqa: S608 - as above
            f"{self.where} ORDER BY {_ORDER}{limit}{offset}"
        )
        with connection.cursor() as cursor:
            _load_times_in_c(cursor)
            cursor.execute(sql, self.params)
            rows = cursor.fetchall()
        return [_converted(row) for row in rows] if _converters() else rows


def _load_times_in_c(cursor: Any) -> None:
    """On PostgreSQL in UTC, read this cursor's times with psycopg's own (C) loader.

    Django registers a Python subclass of psycopg's timestamptz loader on every connection
    (to stamp the connection's time zone on each value), which parses each time in Python:
    half of this page's fetch. The session's time zone is the connection's (Django sets it
    when it connects), so in UTC psycopg's loader returns the very same values."""
    if connection.vendor != "postgresql" or not settings.USE_TZ or connection.timezone_name != "UTC":
        return
    from psycopg import adapters, postgres
    from psycopg.pq import Format

    oid = postgres.types["timestamptz"].oid
    cursor.cursor.adapters.register_loader(oid, adapters.get_loader(oid, Format.TEXT))


#: The ``StockLevelFilter`` filters this path applies (a test holds it to the FilterSet's).
HANDLED = frozenset(field.name for field in dataclasses.fields(LevelFilters))


def handles(values: Mapping[str, Any]) -> bool:
    """Whether every filter given a value is one this path applies (else the ORM path answers)."""
    return all(name in HANDLED for name, value in values.items() if value not in (None, "", [], (), {}))


def level_rows_in_default_order(*, user: Any, values: Mapping[str, Any]) -> LevelRows:
    """The levels ``user`` may view that ``StockLevelFilter``'s validated ``values`` select."""
    within = values.get("within") or None
    # The root's path as a constant of the page's query, not a subquery in it: against a constant
    # prefix PostgreSQL reads the subtree's locations from the path index.
    path = location_path(within) if within is not None else None
    # restrict(user, "view")'s decision; a subtree whose root does not exist holds nothing.
    sites = scope_site_ids(user, StockLevel, "view") if within is None or path is not None else ()
    filters = LevelFilters(
        item=values.get("item") or None,
        location=values.get("location") or None,
        site=values.get("site") or None,
        lot=values.get("lot") or None,
        within=path,
        nonzero=values.get("nonzero"),
    )
    return LevelRows(site_ids=sites, filters=filters)


# The ORM's converters for the typed columns (none on PostgreSQL; SQLite's decimals and times).
_CONVERTED = {6: "on_hand", 7: "reserved", 8: "updated_at"}
_built: dict[str, dict[int, list[tuple[Any, Any]]]] = {}


def _converters() -> dict[int, list[tuple[Any, Any]]]:
    found = _built.get(connection.vendor)
    if found is None:
        found = {}
        for index, name in _CONVERTED.items():
            field = StockLevel._meta.get_field(name)
            if not isinstance(field, models.Field):
                raise TypeError(f"StockLevel.{name} is not a column")
            col = field.get_col(StockLevel._meta.db_table)
            pairs = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
            if pairs:
                found[index] = [(c, col) for c in pairs]
        _built[connection.vendor] = found
    return found


def _converted(row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index, pairs in _converters().items():
        for converter, col in pairs:
            values[index] = converter(values[index], col, connection)
    return tuple(values)
