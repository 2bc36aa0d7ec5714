from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.security.spreadsheet import FORMULA_PREFIXES, safe_cell, safe_row


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://evil.example","x")', "=", "-"],
)
def test_formula_like_strings_are_quoted(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["LOT-1", "a=b", " =1", "", "'=already", "10", "ÄÖ"])
def test_plain_strings_are_unchanged(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [None, 5, -5, 3.5, True])
def test_non_strings_are_unchanged(value):
    assert safe_cell(value) is value


def test_safe_row_through_csv_writer():
    buffer = io.StringIO()
    csv.writer(buffer).writerow(safe_row(["LOT-1", "=cmd|' /C calc'!A0", -3]))
    assert buffer.getvalue() == "LOT-1,'=cmd|' /C calc'!A0,-3\r\n"


@given(st.text())
def test_no_output_starts_a_formula(value):
    assert not str(safe_cell(value)).startswith(FORMULA_PREFIXES)
