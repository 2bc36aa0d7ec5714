"""Template filters every page uses for quantities, money and times (rules in ``tracker.formatting``).

``{% load shopfloor %}`` then:

- ``{{ level.on_hand|qty:level.item }}``: by the item's unit (a unit code, an item or a row with
  ``.item`` all work); ``{{ x|qty }}`` without a unit trims to what the value carries.
- ``{{ x|qty_round:item }}``: a computed quantity (a mean, a forecast) rounded to the unit's precision,
  where ``qty`` would show the four places a statistic carries ("2,495.7484 pcs").
- ``{{ x|qty_input:item }}``: the same without thousands separators, for an ``<input value>``.
- ``{{ x|num }}`` / ``{{ x|num:2 }}``: a plain number (any places up to four, or at least ``2``).
- ``{{ x|money }}``: two places.
- ``{{ ratio|percent }}`` / ``{{ ratio|percent:1 }}``: a share as ``78 %`` / ``53.7 %`` (``–`` for None).
- ``{{ h|hours }}``: a length of time given in hours, as ``12 min`` under an hour, else ``2.5 h``.
- ``{{ when|sitetime }}`` / ``{{ when|sitetime:"D d M H:i" }}``: in the active zone (the page's site,
  activated by ``base.html``) with its abbreviation.
- ``{{ row|cell:key }}``: one report cell, formatted by its column (see :func:`cell`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template

from tracker.formatting import (
    DEFAULT_TIME_FORMAT,
    format_hours,
    format_money,
    format_number,
    format_percent,
    format_quantity,
    format_time,
    unit_places,
)

register = template.Library()

#: report columns that hold an amount of money, not a quantity
MONEY_KEYS = frozenset({"value", "cost", "standard_cost", "unit_cost", "total_value", "exposure"})
#: report columns that hold a quantity of the row's item (formatted by the row's unit when it has one)
QUANTITY_KEYS = frozenset(
    {"quantity", "on_hand", "on_hand_start", "on_hand_end", "average_on_hand", "consumed", "reorder_point"}
    | {"good", "scrap", "counted", "expected", "variance", "available", "order_quantity", "safety_stock"}
)


@register.filter
def qty(value: Any, unit: Any = None) -> str:
    return format_quantity(value, unit)


@register.filter
def qty_round(value: Any, unit: Any = None) -> str:
    places = unit_places(unit) if unit is not None else 0
    return format_number(value, places=places, max_places=places)


@register.filter
def qty_input(value: Any, unit: Any = None) -> str:
    return format_quantity(value, unit, grouping=False)


@register.filter
def num(value: Any, places: Any = 0) -> str:
    try:
        places = int(places)
    except (TypeError, ValueError):
        places = 0
    return format_number(value, places=places)


@register.filter
def money(value: Any) -> str:
    return format_money(value)


@register.filter
def percent(value: Any, places: Any = 0) -> str:
    try:
        places = int(places)
    except (TypeError, ValueError):
        places = 0
    return format_percent(value, places)


@register.filter
def hours(value: Any) -> str:
    return format_hours(value)


@register.filter
def sitetime(value: Any, fmt: str = DEFAULT_TIME_FORMAT) -> str:
    return format_time(value, fmt or DEFAULT_TIME_FORMAT)


def _is_money(key: str) -> bool:
    return key in MONEY_KEYS or key.endswith(("_value", "_cost"))


@register.filter
def cell(row: dict[str, Any], key: str) -> str:
    """A report row's ``key`` for the page: money by :data:`MONEY_KEYS`, a quantity by the row's ``unit``
    (or ``item__unit``) when it has one, times in the site's zone, ``—`` for nothing."""
    value = row.get(key) if isinstance(row, dict) else None
    if value is None and _is_money(key) and isinstance(row, dict) and key in row:
        return "no cost set"  # reports leave a value out (None) when the items have no standard cost
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | float):
        if _is_money(key):
            return format_money(value)
        if key in QUANTITY_KEYS:
            return format_quantity(value, row.get("unit") or row.get("item__unit"))
        return format_number(value)
    if isinstance(value, int):
        return format_number(value)
    return str(value)


@register.filter
def is_number(row: dict[str, Any], key: str) -> bool:
    """Whether a report cell is a number (right-aligned in its column)."""
    value = row.get(key) if isinstance(row, dict) else None
    return isinstance(value, Decimal | float | int) and not isinstance(value, bool)


@register.filter
def key_label(key: Any) -> str:
    """A summary key as words: ``total_value`` → ``Total value``."""
    return str(key).replace("__", " ").replace("_", " ").capitalize()


#: deepest indentation the stylesheet has a class for (``.depth-0`` … ``.depth-8`` in app.css)
MAX_DEPTH_CLASS = 8


@register.filter
def depth_class(depth: Any) -> int:
    """A tree depth clamped to the ``depth-N`` classes (the CSP forbids inline ``style`` attributes)."""
    try:
        return max(0, min(int(depth), MAX_DEPTH_CLASS))
    except (TypeError, ValueError):
        return 0
