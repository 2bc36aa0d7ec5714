"""Quantities, money and times as pages show them (``tracker.formatting`` and the ``shopfloor`` filters)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import timezone

from inventory.models import Item
from tracker.formatting import (
    UNIT_PLACES,
    format_hours,
    format_money,
    format_number,
    format_percent,
    format_quantity,
    format_time,
    unit_places,
)


def render(source: str, **context) -> str:
    return Template("{% load shopfloor %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (Decimal("5E+2"), "pcs", "500"),
        (Decimal("2.9E+2"), "pcs", "290"),
        (Decimal("500.0000"), "box", "500"),
        (Decimal("230.000000000000"), None, "230"),
        (Decimal("16.8000"), "kg", "16.800"),
        (Decimal("16.8125"), "kg", "16.8125"),  # the ledger's places are never rounded away
        (Decimal("0.5"), "l", "0.500"),
        (Decimal("12.5000"), "g", "12.5"),
        (Decimal("3820"), "pcs", "3,820"),
        (Decimal("-4.0000"), "pcs", "-4"),
        (Decimal("-0.0000"), "kg", "0.000"),
        (Decimal("1E-4"), None, "0.0001"),
        (7, "pcs", "7"),
        (2.5, "m", "2.500"),
    ],
)
def test_quantity_by_unit(value, unit, shown):
    assert format_quantity(value, unit) == shown
    assert "E" not in format_quantity(value, unit)


def test_unit_from_an_item_or_a_row_with_an_item():
    kg = SimpleNamespace(unit="kg", tracking="none")
    serial = SimpleNamespace(unit="kg", tracking="serial")
    assert unit_places(kg) == 3
    assert unit_places(SimpleNamespace(item=kg)) == 3
    assert unit_places(serial) == 0  # serial-tracked items count whole units
    assert unit_places("KG") == 3
    assert unit_places("furlong") == 0


def test_every_item_unit_has_places():
    assert set(UNIT_PLACES) == set(Item.Unit.values)
    assert {u for u in Item.DISCRETE_UNITS if UNIT_PLACES[u]} == set()


def test_numbers_money_and_text():
    assert format_number(None) == ""
    assert format_number("n/a") == "n/a"
    assert format_number(Decimal("12.50"), places=2) == "12.50"
    assert format_money(Decimal("1234.5")) == "1,234.50"
    assert format_money(Decimal("0")) == "0.00"
    assert format_quantity(Decimal("1234.5"), "kg", grouping=False) == "1234.500"


def test_filters_render():
    item = SimpleNamespace(unit="kg", tracking="none")
    assert render("{{ q|qty:item }}", q=Decimal("16.8000"), item=item) == "16.800"
    assert render("{{ q|qty:'pcs' }}", q=Decimal("5E+2")) == "500"
    assert render("{{ q|qty }}", q=Decimal("2.9E+2")) == "290"
    assert render("{{ q|qty_input:item }}", q=Decimal("1234.5"), item=item) == "1234.500"
    assert render("{{ q|num }}", q=Decimal("230.000000000000")) == "230"
    assert render("{{ q|money }}", q=Decimal("1E+3")) == "1,000.00"


def test_lengths_of_time_in_minutes_under_an_hour():
    assert format_hours(2 / 60) == "2 min"
    assert format_hours(0.2) == "12 min"
    assert format_hours(0.001) == "under 1 min"
    assert format_hours(1) == "1.0 h"
    assert format_hours(7.96) == "8.0 h"
    assert format_hours(None) == ""
    assert render("({{ h|hours }})", h=0.25) == "(15 min)"


def test_shares_as_percent_whole_or_to_one_place():
    assert format_percent(0.783) == "78 %"
    assert format_percent(0.5372, 1) == "53.7 %"
    assert format_percent(1) == "100 %"
    assert format_percent(None) == "–"
    assert render("{{ r|percent }} · {{ r|percent:1 }}", r=0.0449) == "4 % · 4.5 %"


def test_report_cells_by_column():
    row = {
        "sku": "A",
        "quantity": Decimal("16.8000"),
        "unit": "kg",
        "value": Decimal("230.000000000000"),
        "share": None,
    }
    assert render("{{ row|cell:'quantity' }}", row=row) == "16.800"
    assert render("{{ row|cell:'value' }}", row=row) == "230.00"
    assert render("{{ row|cell:'share' }}", row=row) == "—"
    assert render("{{ row|cell:'sku' }}", row=row) == "A"
    assert render("{{ row|cell:'turnover' }}", row={"turnover": Decimal("2.50")}) == "2.5"


def test_times_carry_their_zone():
    when = dt.datetime(2025, 1, 15, 13, 5, tzinfo=dt.UTC)
    assert format_time(when, zone="Europe/Berlin") == "2025-01-15 14:05 CET"
    assert format_time(when, zone="UTC") == "2025-01-15 13:05 UTC"
    assert format_time(when.replace(month=7), "H:i", zone=SimpleNamespace(time_zone="Europe/Berlin")) == "15:05 CEST"
    assert format_time(when, zone="Not/AZone") == "2025-01-15 13:05 UTC"
    assert format_time(None) == ""
    assert format_time(dt.date(2025, 1, 15), "Y-m-d") == "2025-01-15"


def test_sitetime_filter_uses_the_active_zone():
    when = dt.datetime(2025, 1, 15, 13, 5, tzinfo=dt.UTC)
    with timezone.override("America/New_York"):
        assert render("{{ when|sitetime }}", when=when) == "2025-01-15 08:05 EST"
        assert render("{{ when|sitetime:'D H:i' }}", when=when) == "Wed 08:05 EST"
    source = "{% load tz %}{% timezone zone %}{{ when|sitetime:'H:i' }}{% endtimezone %}"
    assert render(source, when=when, zone="Asia/Tokyo") == "22:05 JST"
    assert render("{{ when|sitetime }}", when=None) == ""
