"""The load heatmap's cell tooltips read as a planner would say them."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from wip.charts import day_title


def _day(required: float, available: float) -> SimpleNamespace:
    return SimpleNamespace(day=dt.date(2026, 12, 7), required_hours=required, available_hours=available)


def test_a_cells_tooltip_names_hours_and_minutes_and_says_when_there_is_nothing():
    assert day_title("CUT", _day(6.5, 7.5)) == "CUT Mon 07 Dec: 6.5 h required of 7.5 h available"
    assert day_title("CUT", _day(0.25, 7.5)) == "CUT Mon 07 Dec: 15 min required of 7.5 h available"
    assert day_title("CUT", _day(0, 7.5)) == "CUT Mon 07 Dec: nothing planned, 7.5 h available"
    assert day_title("CUT", _day(0, 0)) == "CUT Mon 07 Dec: no working time"
    assert day_title("CUT", _day(2, 0)) == "CUT Mon 07 Dec: no working time, 2.0 h of work due"
