"""Dispatch rules, calendars, ETA, late risk and load against hand-computed examples.

All examples use the default calendar (Mon-Fri 06:00-22:00) in UTC, with
"now" on Monday 2026-11-23 08:00 unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt

import pytest

from wip import dispatch
from wip.dispatch import Job, Order, Station, Step, WorkingCalendar

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Day of November 2026 (23 is a Monday) at hour:minute UTC."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


NOW = at(23, 8)
CAL = WorkingCalendar.default("UTC")


class TestCalendar:
    def test_add_spills_over_the_evening_into_the_next_morning(self):
        # 60 min left on Monday (21:00-22:00), the other 60 from Tuesday 06:00.
        assert CAL.add_working_minutes(at(23, 21), 120) == at(24, 7)

    def test_add_skips_the_weekend(self):
        # Friday 27th 21:30: 30 min that day, 30 on Monday 30th from 06:00.
        assert CAL.add_working_minutes(at(27, 21, 30), 60) == at(30, 6, 30)

    def test_add_from_outside_hours_starts_at_the_next_window(self):
        assert CAL.add_working_minutes(at(23, 3), 30) == at(23, 6, 30)
        assert CAL.next_working_instant(at(28, 12)) == at(30, 6)

    def test_subtract_goes_back_over_the_weekend(self):
        # 60 min on Monday 30th 06:00-07:00, then 60 before Friday 22:00.
        assert CAL.subtract_working_minutes(at(30, 7), 120) == at(27, 21)

    def test_working_minutes_between(self):
        # Fri 20:00-22:00 (120) + Mon 06:00-08:00 (120).
        assert CAL.working_minutes(at(27, 20), at(30, 8)) == 240
        assert CAL.minutes_on(at(28, 0).date()) == 0
        assert CAL.minutes_on(at(23, 0).date()) == 16 * 60

    def test_window_to_midnight(self):
        late = WorkingCalendar({0: [(dt.time(22), dt.time(0))], 1: [(dt.time(6), dt.time(8))]}, "UTC")
        # 60 min Monday 23:00-24:00, 60 min Tuesday 06:00-07:00.
        assert late.add_working_minutes(at(23, 23), 120) == at(24, 7)

    def test_daylight_saving_day_has_25_hours(self):
        all_day = WorkingCalendar({d: [(dt.time(0), dt.time(0))] for d in range(7)}, "Europe/Berlin")
        assert all_day.minutes_on(dt.date(2026, 10, 25)) == 25 * 60
        assert all_day.minutes_on(dt.date(2026, 10, 26)) == 24 * 60

    def test_bad_windows_are_refused(self):
        with pytest.raises(ValueError):
            WorkingCalendar({0: [(dt.time(10), dt.time(9))]})
        with pytest.raises(ValueError):
            WorkingCalendar({})


# A station's queue, worked out by hand for every rule:
#   job  queued  proc  remaining  due          priority
#   A    07:00    60     180      Tue 08:00    5      CR = 24 h / 3 h   = 8
#   B    07:30    30      30      Mon 20:00    3      CR = 12 h / 0.5 h = 24
#   C    06:00   120     600      Wed 08:00    5      CR = 48 h / 10 h  = 4.8
#   D    07:45    45      45      (none)       1      CR = infinite
QUEUE = [
    Job("A", at(23, 7), 60, 180, at(24, 8), 5),
    Job("B", at(23, 7, 30), 30, 30, at(23, 20), 3),
    Job("C", at(23, 6), 120, 600, at(25, 8), 5),
    Job("D", at(23, 7, 45), 45, 45, None, 1),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (dispatch.EDD, "BACD"),
        (dispatch.SPT, "BDAC"),
        (dispatch.CRITICAL_RATIO, "CABD"),
        (dispatch.PRIORITY_FIFO, "DBCA"),
    ],
)
def test_dispatch_order_under_each_rule(rule, expected):
    assert "".join(job.key for job in dispatch.dispatch_order(QUEUE, rule, NOW)) == expected


def test_critical_ratio_values():
    assert dispatch.critical_ratio(QUEUE[0], NOW) == pytest.approx(8)
    assert dispatch.critical_ratio(QUEUE[2], NOW) == pytest.approx(4.8)
    past_due = Job("E", at(23, 7), 60, 120, at(23, 6), 5)
    assert dispatch.critical_ratio(past_due, NOW) == pytest.approx(-1)


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError):
        dispatch.dispatch_order(QUEUE, "coin_toss", NOW)


def test_ties_fall_back_to_fifo():
    same = [Job("late", at(23, 7), 10, 10, None, 5), Job("early", at(23, 6), 10, 10, None, 5)]
    assert [j.key for j in dispatch.dispatch_order(same, dispatch.SPT, NOW)] == ["early", "late"]


STATIONS = {key: Station(key, 1, CAL) for key in ("S1", "S2", "S3")}


def test_schedule_eta_and_late_risk():
    # W1 runs on S1 (60 min left), then S2 120.  W2 queued at S1 (30), then S2 60.
    # W3 queued at S2 (90).  Priority then FIFO: W3 (07:00) before W2 (07:30).
    #   S1: W1 08:00-09:00, W2 09:00-09:30
    #   S2: W3 08:00-09:30, W1 09:30-11:30 (ready 09:00), W2 11:30-12:30
    orders = [
        Order("W1", (Step(("S1",), 60), Step(("S2",), 120)), at(23, 7), at(23, 12), 5, running=True),
        Order("W2", (Step(("S1",), 30), Step(("S2",), 60)), at(23, 7, 30), at(23, 12), 5),
        Order("W3", (Step(("S2",), 90),), at(23, 7), at(24, 8), 5),
    ]
    result = dispatch.schedule(orders, STATIONS, rule=dispatch.PRIORITY_FIFO, now=NOW)
    assert result["W1"].eta == at(23, 11, 30)
    assert result["W2"].eta == at(23, 12, 30)
    assert result["W3"].eta == at(23, 9, 30)
    assert [(s.station, s.start, s.end) for s in result["W2"].steps] == [
        ("S1", at(23, 9), at(23, 9, 30)),
        ("S2", at(23, 11, 30), at(23, 12, 30)),
    ]
    # W1: 30 min margin < 20 % of the 3.5 h still needed -> at risk.
    assert result["W1"].risk == dispatch.AT_RISK
    assert result["W2"].risk == dispatch.LATE
    assert result["W3"].risk == dispatch.ON_TRACK
    assert result["W2"].slack == dt.timedelta(minutes=-30)


def test_schedule_follows_the_calendar_overnight():
    orders = [Order("N", (Step(("S1",), 120),), at(23, 20), at(24, 12))]
    result = dispatch.schedule(orders, STATIONS, rule=dispatch.EDD, now=at(23, 21))
    assert result["N"].eta == at(24, 7)


def test_schedule_uses_the_free_station_of_a_group_and_capacity():
    orders = [
        Order("busy", (Step(("S2",), 240),), at(23, 6), None, running=True),
        Order("G", (Step(("S2", "S3"), 60),), at(23, 7), None),
    ]
    result = dispatch.schedule(orders, STATIONS, rule=dispatch.EDD, now=NOW)
    assert result["G"].steps[0].station == "S3"
    assert result["G"].eta == at(23, 9)
    assert result["G"].risk == dispatch.NO_DUE_DATE

    twin = {"S1": Station("S1", 2, CAL)}
    both = [Order(k, (Step(("S1",), 60),), at(23, 7), None) for k in ("a", "b", "c")]
    etas = dispatch.schedule(both, twin, rule=dispatch.PRIORITY_FIFO, now=NOW)
    assert sorted(e.eta for e in etas.values()) == [at(23, 9), at(23, 9), at(23, 10)]


def test_load_profile_backwards_from_due_and_forwards_when_late():
    # X: 10 h due Tue 22:00 -> laid back to Tue 12:00-22:00: Tuesday 10 h.
    # Y: 4 h due Mon 10:00 -> cannot make it backwards; forwards Mon 08:00-12:00.
    # Z: 20 h, no due date -> forwards: Monday 08:00-22:00 (14 h), Tuesday 06:00-12:00 (6 h).
    orders = [
        Order("X", (Step(("S1",), 600),), at(23, 7), at(24, 22)),
        Order("Y", (Step(("S1",), 240),), at(23, 7), at(23, 10)),
        Order("Z", (Step(("S1",), 1200),), at(23, 7), None),
    ]
    load = dispatch.load_profile(orders, {"S1": STATIONS["S1"]}, now=NOW, days=7)["S1"]
    assert [row.day.day for row in load] == [23, 24, 25, 26, 27, 28, 29]
    assert [row.required_hours for row in load[:3]] == [18, 16, 0]
    assert [row.available_hours for row in load] == [16, 16, 16, 16, 16, 0, 0]
    assert [row.state for row in load[:3]] == [dispatch.OVERLOADED, dispatch.LOADED, dispatch.IDLE]


def test_load_of_a_group_step_is_shared():
    orders = [Order("G", (Step(("S2", "S3"), 120),), at(23, 7), None)]
    load = dispatch.load_profile(orders, STATIONS, now=NOW, days=1)
    assert load["S2"][0].required_hours == 1
    assert load["S3"][0].required_hours == 1
    assert load["S1"][0].required_hours == 0
