"""How numbers and times read on pages and in messages (exports and the API keep full precision, UTC).

One place decides, so every page agrees:

- A quantity shows its unit's places: whole numbers for counted units (pieces, boxes, serial-tracked
  items), three places for kilograms, tonnes, metres, square metres and litres (gram, millilitre,
  millimetre resolution), none for grams and millilitres. A value that carries more places than its
  unit shows (the ledger keeps four) keeps them rather than being rounded out of sight, so a page never
  disagrees with the ledger. Never scientific notation, never trailing zeros beyond the unit's places.
- A time shows in the site's zone with the zone's abbreviation (``14:05 CET``), never bare.
- A length of time under an hour shows in minutes (``12 min``), from an hour on in hours to one place
  (``2.5 h``): "0.0 h" says nothing.
- A share (utilisation, yield, OEE) shows as a percent with a space before the sign (``78 %``): whole
  percents on overview pages, one place where the page is about that figure (the OEE page).

``tracker`` cannot import ``inventory`` (see ``tracker.registry``), so the unit table lives here; the
unit codes are ``inventory.models.Item.Unit``'s and a test holds the two in step.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import dateformat, timezone

#: places the ledger stores (``inventory.models.QTY``); more are never shown
STORED_PLACES = 4

#: places a quantity of each unit always shows (``Item.Unit`` codes)
UNIT_PLACES: dict[str, int] = {
    "pcs": 0,
    "box": 0,
    "kg": 3,
    "g": 0,
    "t": 3,
    "m": 3,
    "m2": 3,
    "l": 3,
    "ml": 0,
}

#: the date format pages use unless a template asks for another (``django.utils.dateformat``)
DEFAULT_TIME_FORMAT = "Y-m-d H:i"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def unit_places(unit: Any) -> int:
    """The places a quantity of ``unit`` shows: ``unit`` is a unit code, an item, or anything with ``.item``.

    A serial-tracked item counts whole units whatever its unit; an unknown unit shows what the value has.
    """
    item = getattr(unit, "item", None) if not hasattr(unit, "unit") else unit
    if item is not None and hasattr(item, "unit"):
        if getattr(item, "tracking", None) == "serial":
            return 0
        unit = item.unit
    return UNIT_PLACES.get(str(unit or "").lower(), 0)


def format_number(value: Any, *, places: int = 0, max_places: int = STORED_PLACES, grouping: bool = True) -> str:
    """``value`` in plain notation with at least ``places`` and at most ``max_places`` decimals.

    Places beyond ``places`` are shown only when they are not zero (``16.8125`` stays, ``16.8000`` with
    ``places=3`` is ``16.800``). Anything not a number is returned as text unchanged; ``None`` is ``""``.
    """
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    max_places = max(max_places, places)
    number = number.quantize(Decimal(1).scaleb(-max_places))
    text = f"{number:,.{max_places}f}" if grouping else f"{number:.{max_places}f}"
    if max_places > places:
        whole, _, fraction = text.partition(".")
        fraction = fraction[:places] + fraction[places:].rstrip("0")
        text = f"{whole}.{fraction}" if fraction else whole
    if text.lstrip("-").strip("0,.") == "":
        text = text.lstrip("-")  # no "-0"
    return text


def format_quantity(value: Any, unit: Any = None, *, grouping: bool = True) -> str:
    """A quantity by its unit's precision (see the module docstring); ``unit`` as for :func:`unit_places`."""
    return format_number(value, places=unit_places(unit) if unit is not None else 0, grouping=grouping)


def format_money(value: Any) -> str:
    """An amount with two places and thousands separators (the currency is the site's, not shown)."""
    return format_number(value, places=2, max_places=2)


def zone_for(site_or_zone: Any) -> dt.tzinfo:
    """The time zone of a site (or a zone name); UTC for an unknown name, the active zone for ``None``."""
    if site_or_zone is None:
        return timezone.get_current_timezone()
    name = getattr(site_or_zone, "time_zone", site_or_zone)
    if isinstance(name, dt.tzinfo):
        return name
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_time(value: Any, fmt: str = DEFAULT_TIME_FORMAT, *, zone: Any = None) -> str:
    """An aware datetime in ``zone`` (a site, a zone name; default the active zone) with its abbreviation.

    Pages activate the current site's zone (``templates/base.html``), so ``zone`` is only needed for a time
    that belongs to another site. A date, or a naive datetime, is formatted as it is (no zone to name).
    An ISO 8601 text (a row shaped for the API, such as a trace's moves) is read as the time it names.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        local = value.astimezone(zone_for(zone))
        return f"{dateformat.format(local, fmt)} {local.tzname() or 'UTC'}"
    if isinstance(value, dt.date):
        return dateformat.format(value, fmt)
    return str(value)


def format_hours(hours: Any) -> str:
    """A length of time given in hours: ``12 min`` under an hour (``under 1 min`` below half a minute),
    else ``2.5 h``; ``""`` for nothing."""
    number = _decimal(hours)
    if number is None:
        return ""
    if number < 1:
        minutes = round(number * 60)
        return "under 1 min" if minutes < 1 else f"{minutes} min"
    return f"{number:,.1f} h"


def format_percent(ratio: Any, places: int = 0) -> str:
    """A share given as a ratio (``0.783``) as ``78 %`` (``places`` decimals); ``–`` for nothing."""
    number = _decimal(ratio)
    if number is None:
        return "–"
    return f"{format_number(number * 100, places=places, max_places=places)} %"
