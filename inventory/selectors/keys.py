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
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models

from inventory.models import Item, Lot, StockLevel
from tracker.models import Location, Site
from tracker.scoping import scope_site_ids

Converter = Callable[[Any, Any, Any], Any]


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


def _column(field: models.Field[Any, Any]) -> str:
    if field.column is None:  # concrete fields always have one
        raise TypeError(f"{field} has no column")
    return field.column


def _usable(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\x00" not in value


class _Shape:
    """Per database vendor, built once: each model's columns, their NULL casts and converters."""

    def __init__(self) -> None:
        q = connection.ops.quote_name
        self.fields: dict[type[models.Model], list[models.Field[Any, Any]]] = {}
        self.columns: dict[type[models.Model], list[str]] = {}
        self.nulls: dict[type[models.Model], list[str]] = {}
        self.converters: dict[type[models.Model], list[list[tuple[Converter, Any]]]] = {}
        for model in _MODELS:
            fields = [f for f in model._meta.concrete_fields if isinstance(f, models.Field)]
            self.fields[model] = fields
            self.columns[model] = [f"t.{q(_column(f))}" for f in fields]
            self.nulls[model] = [f"CAST(NULL AS {f.cast_db_type(connection)})" for f in fields]
            per_field = []
            for f in fields:
                col = f.get_col(model._meta.db_table)
                found = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
                per_field.append([(c, col) for c in found])
            self.converters[model] = per_field
        offsets, at = {}, 1  # column 0 is the branch's model index
        for model in _MODELS:
            offsets[model] = at
            at += len(self.fields[model])
        self.offsets: dict[type[models.Model], int] = offsets

    def select(self, model: type[models.Model]) -> str:
        parts = [str(_MODELS.index(model))]
        for other in _MODELS:
            parts.extend(self.columns[other] if other is model else self.nulls[other])
        return "SELECT " + ", ".join(parts)

    def instance(self, model: type[models.Model], row: tuple[Any, ...]) -> Any:
        start = self.offsets[model]
        fields = self.fields[model]
        values = []
        for value, converters in zip(row[start : start + len(fields)], self.converters[model], strict=True):
            for converter, col in converters:
                value = converter(value, col, connection)
            values.append(value)
        return model.from_db(connection.alias, [f.attname for f in fields], values)


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
    with connection.cursor() as cursor:
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
