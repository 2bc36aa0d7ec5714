"""What DRF's fields answer for a value, with their per-call lookups done once per page.

The lean read paths (a list built from ``.values()``) format numbers and times
exactly as the serializer they replace would. Calling the DRF field for every
cell paid, per value, for a copy of the thread's decimal context, settings
lookups and the current time zone (a context-local read): most of a 50-row
page's formatting. ``decimal_text`` and ``datetime_text`` make those decisions
once, when a page starts, and hand back a function that only formats; anything
they do not cover exactly (another output format, a naive time, a float) goes
to the field itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

Formatter = Callable[[Any], Any]


def decimal_text(field: serializers.DecimalField) -> Formatter:
    """``field.to_representation``, for a plain (not localised, string, not normalised) field."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    places, digits = field.decimal_places, field.max_digits
    if not coerce or field.localize or field.normalize_output or places is None:
        return field.to_representation
    exponent = decimal.Decimal(".1") ** places
    # As DRF's quantize(): the thread's context, its precision the field's digits.
    context = decimal.getcontext().copy()
    if digits is not None:
        context.prec = digits
    rounding = field.rounding
    slow = field.to_representation

    def text(value: Any) -> Any:
        if type(value) is not decimal.Decimal:
            return slow(value)
        return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

    return text


def datetime_text(field: serializers.DateTimeField) -> Formatter:
    """``field.to_representation``, for aware datetimes and a strftime output format."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output_format is None or output_format.lower() == ISO_8601 or zone is None:
        return field.to_representation
    slow = field.to_representation

    def text(value: Any) -> Any:
        if type(value) is not dt.datetime or value.tzinfo is None:
            return slow(value)
        return value.astimezone(zone).strftime(output_format)

    return text
