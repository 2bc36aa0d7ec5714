"""Natural keys (SKU, location code, lot code, site code) resolved for a write in one query.

A posting names its item, locations, lot and site by the keys partners hold. Looking each up
through its own scoped queryset costs one query and, above all, one ORM query build per key:
on the hot write endpoints that was about a fifth of the request's CPU. ``natural_keys()``
fetches them all in one ``UNION ALL`` of plain SQL (one branch per model, each row in its
model's own columns, the others ``NULL``), converts the values with the same converters the
ORM applies and builds the instances with ``Model.from_db``.

Scoping is ``restrict(user, "view")``'s, decided by the same function
(``tracker.scoping.scope_site_ids``) and written as each model's ``site_q`` would:
locations and sites by site id, lots where they were made or are held, items for anyone who
may see items at all. A key that is missing, not visible or not a plain string is simply
absent from the result: the caller then takes the serializer path, whose errors say which.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from django.db import connection, models

from inventory.models import Item, Lot, StockLevel
from tracker.bound_cursor import bound_cursor
from tracker.models import Location, Site
from tracker.scoping import scope_site_ids
from tracker.sqlrows import rows_of


@dataclasses.dataclass
class NaturalKeys:
    """What one ``natural_keys()`` call found, by key (absent: missing or not visible)."""

    items: dict[str, Item] = dataclasses.field(default_factory=dict)
    locations: dict[str, Location] = dataclasses.field(default_factory=dict)
    #: by (item id, lot code)
    lots: dict[tuple[int, str], Lot] = dataclasses.field(default_factory=dict)
    sites: dict[str, Site] = dataclasses.field(default_factory=dict)


#: The branches' order in every row's column list (a row fills only its own model's block).
_MODELS: tuple[type[models.Model], ...] = (Item, Location, Lot, Site)


def _usable(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\x00" not in value


class _Shape:
    """A row of the union: column 0 is the branch's model index, then each model's columns in
    ``_MODELS`` order (its own in its branch, typed NULLs in the others')."""

    def __init__(self) -> None:
        self.rows = {model: rows_of(model) for model in _MODELS}
        self.offsets: dict[type[models.Model], int] = {}
        at = 1
        for model in _MODELS:
            self.offsets[model] = at
            at += len(self.rows[model])

    def select(self, model: type[models.Model]) -> str:
        parts = [str(_MODELS.index(model))]
        for other in _MODELS:
            parts.extend(self.rows[other].columns("t") if other is model else self.rows[other].nulls)
        return "SELECT " + ", ".join(parts)

    def instance(self, model: type[models.Model], row: tuple[Any, ...]) -> Any:
        start = self.offsets[model]
        return self.rows[model].instance(row[start : start + len(self.rows[model])])


_shapes: dict[str, _Shape] = {}


def _shape() -> _Shape:
    shape = _shapes.get(connection.vendor)
    if shape is None:
        shape = _shapes[connection.vendor] = _Shape()
    return shape


def _in(column: str, values: Iterable[Any], params: list[Any]) -> str:
    values = list(values)
    params.extend(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def natural_keys(
    *,
    user: Any,
    skus: Iterable[Any] = (),
    location_codes: Iterable[Any] = (),
    lots: Iterable[tuple[Any, Any]] = (),
    site_codes: Iterable[Any] = (),
) -> NaturalKeys:
    """Items by SKU, locations and sites by code and lots by (SKU, code), among those ``user``
    may view (as ``restrict(user, "view")``), in one query (none when nothing is asked).

    Values that cannot name anything (not a string, empty, with a NUL) are skipped."""
    skus = sorted({v for v in skus if _usable(v)})
    codes = sorted({v for v in location_codes if _usable(v)})
    lot_keys = sorted({(s, c) for s, c in lots if _usable(s) and _usable(c)})
    site_keys = sorted({v for v in site_codes if _usable(v)})
    shape = _shape()
    q = connection.ops.quote_name
    branches: list[str] = []
    params: list[Any] = []

    if skus and scope_site_ids(user, Item) != ():  # items are global: any site (or superuser) sees all
        branches.append(
            f"{shape.select(Item)} FROM {q(Item._meta.db_table)} t WHERE {_in('t.' + q('sku'), skus, params)}"
        )
    location_sites = scope_site_ids(user, Location) if codes else ()
    if codes and location_sites != ():
        where = _in("t." + q("code"), codes, params)
        if location_sites is not None:
            where += " AND " + _in("t." + q("site_id"), location_sites, params)
        branches.append(f"{shape.select(Location)} FROM {q(Location._meta.db_table)} t WHERE {where}")
    lot_sites = scope_site_ids(user, Lot) if lot_keys else ()
    if lot_keys and lot_sites != ():
        pairs = " OR ".join(f"(i.{q('sku')} = %s AND t.{q('code')} = %s)" for _ in lot_keys)
        params.extend(v for pair in lot_keys for v in pair)
        where = f"({pairs})"
        if lot_sites is not None:  # LotQuerySet.site_q: made or received there, or held there
            made_there = _in("t." + q("site_id"), lot_sites, params)
            held = (
                f"SELECT u.{q('lot_id')} FROM {q(StockLevel._meta.db_table)} u "  # noqa: S608 - names from the models; values are parameters
                f"WHERE {_in('u.' + q('site_id'), lot_sites, params)} AND u.{q('lot_id')} IS NOT NULL"
            )
            where += f" AND ({made_there} OR t.{q('id')} IN ({held}))"
        branches.append(
            f"{shape.select(Lot)} FROM {q(Lot._meta.db_table)} t "
            f"INNER JOIN {q(Item._meta.db_table)} i ON i.{q('id')} = t.{q('item_id')} WHERE {where}"
        )
    site_scope = scope_site_ids(user, Site) if site_keys else ()
    if site_keys and site_scope != ():
        where = _in("t." + q("code"), site_keys, params)
        if site_scope is not None:
            where += " AND " + _in("t." + q("id"), site_scope, params)
        branches.append(f"{shape.select(Site)} FROM {q(Site._meta.db_table)} t WHERE {where}")

    found = NaturalKeys()
    if not branches:
        return found
    with bound_cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    for row in rows:
        model = _MODELS[row[0]]
        obj = shape.instance(model, row)
        if model is Item:
            found.items[obj.sku] = obj
        elif model is Location:
            found.locations[obj.code] = obj
        elif model is Lot:
            found.lots[(obj.item_id, obj.code)] = obj
        else:
            found.sites[obj.code] = obj
    return found
