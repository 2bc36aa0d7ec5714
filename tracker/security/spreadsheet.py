"""Neutralise cells that a spreadsheet would evaluate as a formula (CSV/XLSX injection).

Spreadsheet programs treat a cell starting with ``= + - @`` (and, in some, a
tab or carriage return before them) as a formula, so a lot number such as
``=HYPERLINK(...)`` typed by a supplier would run on the planner's machine.
Every export writes each cell through ``safe_cell``: such strings get a leading
apostrophe, which spreadsheets show as text. Numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Return ``value`` unchanged unless it is a string a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """``safe_cell`` applied to each value of a row (for ``csv.writer.writerow``)."""
    return [safe_cell(v) for v in values]
