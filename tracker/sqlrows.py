"""Model instances from hand-written SQL, typed exactly as the ORM types them.

The hot write path reads a few rows with plain SQL (``inventory.selectors.keys``,
``inventory.locks``): building an ORM query costs more CPU than running it. ``rows_of(Model)``
gives the model's concrete columns for a select list, typed NULLs for a ``UNION`` branch of
another model, and turns the selected values into an instance with the converters the ORM
would apply (SQLite's decimals, dates and booleans; JSON) and ``Model.from_db``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]

#: A hand-written statement and its parameters, for a caller that sends several as one.
Statement = tuple[str, list[Any]]


def column_of(field: models.Field[Any, Any]) -> str:
    if field.column is None:  # concrete fields always have one
        raise TypeError(f"{field} has no column")
    return field.column


class ModelRows(Generic[M]):
    """One model's concrete columns on the current database vendor (build with ``rows_of``)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if isinstance(f, models.Field)]
        self.attnames = [f.attname for f in self.fields]
        self.quoted = [connection.ops.quote_name(column_of(f)) for f in self.fields]
        #: ``CAST(NULL AS <type>)`` per column: a UNION's other branches need typed NULLs on PostgreSQL
        self.nulls = [f"CAST(NULL AS {f.cast_db_type(connection)})" for f in self.fields]
        self.converters: list[list[tuple[Converter, Any]]] = []
        for f in self.fields:
            col = f.get_col(model._meta.db_table)
            found = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
            self.converters.append([(c, col) for c in found])
        self.table = connection.ops.quote_name(model._meta.db_table)

    def __len__(self) -> int:
        return len(self.fields)

    def columns(self, alias: str) -> list[str]:
        return [f"{alias}.{name}" for name in self.quoted]

    def instance(self, values: Sequence[Any]) -> M:
        """An instance from this model's column values, in ``columns()`` order."""
        converted = []
        for value, converters in zip(values, self.converters, strict=True):
            for converter, col in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


_built: dict[tuple[str, type[models.Model]], ModelRows[Any]] = {}


def rows_of(model: type[M]) -> ModelRows[M]:
    """``ModelRows`` of ``model`` for the current vendor, built once."""
    key = (connection.vendor, model)
    rows = _built.get(key)
    if rows is None:
        rows = _built[key] = ModelRows(model)
    return rows


#: Field types whose Python values Django's PostgreSQL backend hands psycopg unchanged
#: (``get_db_prep_save`` returns them as they are there, after a conversion that is a no-op
#: for values of the field's own type).
_PLAIN_ON_POSTGRESQL = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "ForeignKey",
        "IntegerField",
        "PositiveIntegerField",
        "SmallIntegerField",
        "TextField",
        "UUIDField",
    }
)


def save_params(fields: Sequence[models.Field[Any, Any]], rows: Iterable[Sequence[Any]]) -> list[Any]:
    """The parameters of a hand-written multi-row INSERT of ``rows`` (values in ``fields``
    order), as ``bulk_create`` would prepare them: on PostgreSQL the values of plain field
    types as they are (their ``get_db_prep_save`` was most of such an INSERT's CPU), every
    other value through ``get_db_prep_save``."""
    postgres = connection.vendor == "postgresql"
    plain = [postgres and f.get_internal_type() in _PLAIN_ON_POSTGRESQL for f in fields]
    params: list[Any] = []
    for row in rows:
        for field, is_plain, value in zip(fields, plain, row, strict=True):
            params.append(value if is_plain else field.get_db_prep_save(value, connection))
    return params
