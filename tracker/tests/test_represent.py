"""The lean paths' formatters answer what the DRF fields they stand for answer, value for value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from tracker.api.represent import datetime_text, decimal_text

NUMBERS = [D("0"), D("-0"), D("6.5"), D("1.23456"), D("1.23455"), D("-3.00005"), D("99999999999999.9999"), 7, 2.5]
TIMES = [
    dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 7, 1, 23, 59, 59, tzinfo=ZoneInfo("Europe/Berlin")),
    dt.datetime(2026, 7, 1, 8, 0),  # naive: the field's own handling
]


@pytest.mark.parametrize(
    "field",
    [
        serializers.DecimalField(max_digits=18, decimal_places=4, read_only=True),
        serializers.DecimalField(max_digits=8, decimal_places=2, read_only=True, coerce_to_string=False),
        serializers.DecimalField(max_digits=18, decimal_places=4, read_only=True, normalize_output=True),
    ],
)
def test_decimal_text_is_the_fields_representation(field):
    text = decimal_text(field)
    for value in NUMBERS:
        try:
            expected = field.to_representation(value)
        except Exception as exc:  # out of the field's digits: the same error
            with pytest.raises(type(exc)):
                text(value)
            continue
        assert text(value) == expected, value


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago"])
@pytest.mark.parametrize(
    "field",
    [
        serializers.DateTimeField(read_only=True),
        serializers.DateTimeField(read_only=True, format="iso-8601"),
        serializers.DateTimeField(read_only=True, format="%d.%m.%Y %H:%M", default_timezone=ZoneInfo("Asia/Tokyo")),
    ],
)
def test_datetime_text_is_the_fields_representation(field, zone):
    with timezone.override(zone):
        text = datetime_text(field)
        for value in TIMES:
            assert text(value) == field.to_representation(value), value
