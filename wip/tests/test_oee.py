"""OEE against hand computations: the textbook shift, precedence of the sources,
a shift over midnight, a calendar with breaks, and the whole path through the
services (operator stop, device stop, runs, scrap) to ``site_oee``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories.wip import WorkOrderFactory, make_plant
from wip import dispatch, oee, services, timeline
from wip.models import Operation, OperationRun, ReasonCode, StationState, WorkingHours
from wip.selectors import oee as oee_selectors


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    """23 November 2026 is a Monday."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


T = dt.time


def textbook_calendar() -> dispatch.WorkingCalendar:
    """06:00-14:00 with a 15-minute break, a 30-minute meal and another 15-minute break."""
    return dispatch.WorkingCalendar(
        {0: [(T(6), T(9)), (T(9, 15), T(11, 30)), (T(12), T(13)), (T(13, 15), T(14))]}, "UTC"
    )


def test_textbook_shift_gives_textbook_oee() -> None:
    """The worked example every OEE text uses: 480-minute shift, 60 minutes of
    breaks, 47 minutes down, ideal cycle 1.0 s, 19,271 made, 423 rejected.
    A = 373/420 = 88.81 %, P = 19,271 s / 22,380 s = 86.11 %,
    Q = 18,848/19,271 = 97.80 %, OEE = 74.79 %."""
    (shift,) = oee.shifts(textbook_calendar(), at(0), at(23, 59))
    assert (shift.start, shift.end, shift.working_seconds) == (at(6), at(14), 420 * 60)
    intervals = [
        timeline.Interval(at(6), at(14), "running", timeline.RUN),
        timeline.Interval(at(6, 30), at(7), "unplanned_stop", timeline.OPERATOR, reason_id=1),
        timeline.Interval(at(10), at(10, 17), "unplanned_stop", timeline.DEVICE),
        # A stop in the meal break is no loss: breaks are not planned production time.
        timeline.Interval(at(11, 35), at(11, 50), "unplanned_stop", timeline.DEVICE),
    ]
    segments = timeline.merge(intervals, at(6), at(14))
    count = oee.Count(at(6), at(14), Decimal(19271), Decimal(423), Decimal("1.0"))
    figs = oee.figures(segments, shift, [count], now=at(20))
    assert figs.planned_minutes == 420
    assert figs.run_minutes == 373
    assert figs.availability == pytest.approx(373 / 420)
    assert figs.performance == pytest.approx(19271 / (373 * 60))
    assert figs.quality == pytest.approx(18848 / 19271)
    assert figs.oee == pytest.approx(0.7479, abs=1e-4)
    losses = figs.losses_minutes()
    assert losses["equipment_failure"] == 47
    assert losses["reduced_speed"] == pytest.approx(373 - 19271 / 60, abs=0.01)
    assert losses["reduced_yield"] == pytest.approx(423 / 60, abs=0.01)  # one run: the start-up's


def test_sources_resolve_by_precedence() -> None:
    """operator > device > run > derived idle (starved, or blocked while work waits)."""
    intervals = [
        timeline.Interval(at(8), at(12), "running", timeline.RUN, row_id=1),
        timeline.Interval(at(9), at(10), "unplanned_stop", timeline.DEVICE, row_id=2),
        timeline.Interval(at(9, 30), at(10, 30), "changeover", timeline.OPERATOR, reason_id=7, row_id=3),
        timeline.Interval(at(12, 30), None, "running", timeline.DEVICE, row_id=4),  # still running
    ]
    queued = [(at(7), at(8)), (at(7, 30), at(8))]
    segs = timeline.merge(intervals, at(6), at(13))
    got = [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), s.state, s.source) for s in segs]
    assert got == [
        ("06:00", "08:00", "idle_starved", "derived"),
        ("08:00", "09:00", "running", "run"),
        ("09:00", "09:30", "unplanned_stop", "device"),
        ("09:30", "10:30", "changeover", "operator"),
        ("10:30", "12:00", "running", "run"),
        ("12:00", "12:30", "idle_starved", "derived"),
        ("12:30", "13:00", "running", "device"),
    ]
    segs = timeline.merge(intervals, at(6), at(13), queued)
    assert [(s.start.hour, s.end.hour, s.state) for s in segs[:2]] == [(6, 7, "idle_starved"), (7, 8, "idle_blocked")]
    assert sum(s.seconds for s in segs) == 7 * 3600  # the timeline covers the window exactly


def test_shift_over_midnight_is_one_shift_dated_by_its_start() -> None:
    """Mon 22:00-24:00 and Tue 00:00-06:00 are one night shift of Monday; a
    30-minute break at 02:00 stays inside it."""
    cal = dispatch.WorkingCalendar({0: [(T(22), T(0))], 1: [(T(0), T(2)), (T(2, 30), T(6))]}, "UTC")
    (night,) = oee.shifts(cal, at(0), at(23, 59))
    assert (night.start, night.end) == (at(22), at(6, day=24))
    assert night.day == dt.date(2026, 11, 23)
    assert night.label == "22:00–06:00 UTC"
    assert night.working_seconds == 7.5 * 3600
    # Running all night, 45 minutes of changeover at 23:30: A = (450 - 45) / 450.
    segs = timeline.merge(
        [
            timeline.Interval(at(22), at(6, day=24), "running", timeline.RUN),
            timeline.Interval(at(23, 30), at(0, 15, day=24), "changeover", timeline.OPERATOR),
        ],
        at(22),
        at(6, day=24),
    )
    figs = oee.figures(segs, night, [], now=at(12, day=24))
    assert figs.planned_minutes == 450
    assert figs.availability == pytest.approx(405 / 450)
    assert figs.losses_minutes()["setup_adjustments"] == 45


def test_day_and_planned_stops_and_long_stretches() -> None:
    """A 24-hour plant is cut into three 8-hour shifts; a planned stop leaves
    planned production time; a shift in progress counts up to now."""
    cal = dispatch.WorkingCalendar({0: [(T(0), T(0))]}, "UTC")
    got = oee.shifts(cal, at(0), at(23, 59))
    assert [s.label for s in got] == ["00:00–08:00 UTC", "08:00–16:00 UTC", "16:00–00:00 UTC"]
    segs = timeline.merge(
        [
            timeline.Interval(at(8), at(16), "running", timeline.RUN),
            timeline.Interval(at(9), at(10), "planned_stop", timeline.OPERATOR),
        ],
        at(8),
        at(16),
    )
    figs = oee.figures(segs, got[1], [], now=at(12))
    assert figs.planned_minutes == 180  # 08:00-12:00 less the planned hour
    assert figs.availability == pytest.approx(1.0)


@pytest.mark.django_db
def test_site_oee_through_the_services(site_a) -> None:
    """CUT, Monday 06:00-14:00 with a break 10:00-10:30 (450 planned minutes),
    ideal cycle 15 minutes a unit.

    WO1 (10): starts 06:00, operator stop (jam) 07:00-07:30, done 09:00, 9 good 1 scrap.
    WO2 (10): starts 09:00, the machine reports stopped 11:00, running 11:15
              (the operator gives the reason afterwards), done 13:00, 10 good.
    13:00-14:00 nothing waits: idle, starved.

    Run = 60 + 150 + 30 + 105 = 345 min: A = 345/450; P = 20 × 15 / 345;
    Q = 19/20; OEE = 19 × 15 / 450 = 63.33 %."""
    site_a.time_zone = "UTC"
    site_a.save()
    plant = make_plant(site_a)
    WorkingHours.objects.create(site=site_a, weekday=0, start=T(6), end=T(10))
    WorkingHours.objects.create(site=site_a, weekday=0, start=T(10, 30), end=T(14))
    Operation.objects.filter(routing=plant.routing, sequence=10).update(ideal_cycle_seconds=900)
    mechanical = ReasonCode.objects.create(site=site_a, code="mechanical", name="Mechanical")
    jam = ReasonCode.objects.create(site=site_a, code="jam", name="Jam", parent=mechanical)
    orders = [WorkOrderFactory(routing=plant.routing, quantity=Decimal(10)) for _ in range(2)]
    for order in orders:
        services.work_order_release(work_order=order, at=at(5))
    run1, run2 = (OperationRun.objects.get(work_order=o, sequence=10) for o in orders)
    services.operation_start(run=run1, at=at(6))
    services.station_stop(workstation=plant.cut, reason=jam, at=at(7))
    services.station_resume(workstation=plant.cut, at=at(7, 30))
    services.operation_complete(run=run1, good_quantity=Decimal(9), scrap_quantity=Decimal(1), at=at(9))
    services.operation_start(run=run2, at=at(9))
    services.station_device_signal(workstation=plant.cut, state="stopped", at=at(11), device_ref="CUT-PLC")
    now = oee_selectors.station_now(workstation=plant.cut, now=at(11, 5))
    assert now.state == "unplanned_stop" and now.reason_needed is not None
    services.station_state_reason_set(state=now.reason_needed, reason=jam)
    services.station_device_signal(workstation=plant.cut, state="running", at=at(11, 15), device_ref="CUT-PLC")
    services.station_device_signal(workstation=plant.cut, state="idle", at=at(11, 20), device_ref="CUT-PLC")
    services.operation_complete(run=run2, good_quantity=Decimal(10), at=at(13))
    assert StationState.objects.filter(workstation=plant.cut, ended_at__isnull=True).count() == 0

    report = oee_selectors.site_oee(site=site_a, start=at(0), end=at(23, 59), now=at(15))
    row = report.cell(plant.cut, report.shifts[0])
    assert row is not None
    figs = row.figures
    assert figs.planned_minutes == 450
    assert figs.run_minutes == 345
    assert figs.availability == pytest.approx(345 / 450)
    assert figs.performance == pytest.approx(300 / 345)
    assert figs.quality == pytest.approx(0.95)
    assert figs.oee == pytest.approx(285 / 450)
    assert figs.losses_minutes() == {
        "equipment_failure": 45,
        "setup_adjustments": 0,
        "idling_minor_stops": 60,
        "reduced_speed": 45,
        "process_defects": 0,
        "reduced_yield": 15,
    }
    pareto = report.pareto()
    assert [(p.reason, p.minutes, p.count) for p in pareto] == [("Mechanical > Jam", 45, 2)]
    assert [d for d, _ in report.by_day()] == [dt.date(2026, 11, 23)]
    assert report.by_week()[0][0] == "2026-W48"


@pytest.mark.django_db
def test_site_oee_query_count_does_not_grow(site_a, django_assert_num_queries) -> None:
    site_a.time_zone = "UTC"
    site_a.save()
    plant = make_plant(site_a)
    for order in [WorkOrderFactory(routing=plant.routing, quantity=Decimal(1)) for _ in range(4)]:
        services.work_order_release(work_order=order, at=at(5))
        run = OperationRun.objects.get(work_order=order, sequence=10)
        services.operation_start(run=run, at=at(6))
        services.operation_complete(run=run, good_quantity=Decimal(1), at=at(7))
    with django_assert_num_queries(6):
        report = oee_selectors.site_oee(site=site_a, start=at(0), end=at(0, day=30), now=at(0, day=30))
    assert len(report.rows) == 3 * 5 * 2  # three stations, Monday to Friday, two shifts of the default calendar


def test_a_run_over_the_shift_change_shares_its_ideal_time_by_its_worked_time() -> None:
    """Two 8-hour shifts (06-14, 14-22), ideal cycle 60 s. A run of 120 units from
    13:00 to 15:00, running all along: one hour of it in each shift, so each shift
    gets 60 units' ideal time against its hour of run time (P = 100 %), not 0 % in
    the first and 200 % in the second. Its units count whole (quality) in the
    shift it finished in."""
    # 06:00-22:00 is longer than a shift: cut into 06:00-14:00 and 14:00-22:00.
    first, second = oee.shifts(dispatch.WorkingCalendar({0: [(T(6), T(22))]}, "UTC"), at(0), at(23, 59))
    assert (first.end, second.start) == (at(14), at(14))
    segs = timeline.merge([timeline.Interval(at(13), at(15), "running", timeline.RUN)], at(6), at(22))
    run = oee.Count(at(13), at(15), Decimal(120), Decimal(0), Decimal(60), worked_seconds=7200)
    a = oee.figures(segs, first, [run], now=at(23))
    b = oee.figures(segs, second, [run], now=at(23))
    assert (a.run_minutes, b.run_minutes) == (60, 60)
    assert a.performance == pytest.approx(1.0) and b.performance == pytest.approx(1.0)
    assert (a.total, b.total) == (0, 120)
    assert a.losses_minutes()["reduced_speed"] == 0


def test_output_made_before_the_plant_began_is_not_counted_against_its_run_time() -> None:
    """The plant's records begin at 10:00 (``since``); a run started 08:00 and
    finished 11:00 (180 worked minutes, 90 units at 120 s ideal). Only its hour
    after 10:00 is run time here, so only a third of its ideal time counts:
    P = 60 min / 60 min, not 180 / 60."""
    (shift,) = oee.shifts(dispatch.WorkingCalendar({0: [(T(6), T(14))]}, "UTC"), at(0), at(23, 59))
    segs = timeline.merge([timeline.Interval(at(10), at(11), "running", timeline.RUN)], at(10), at(14))
    run = oee.Count(at(8), at(11), Decimal(90), Decimal(0), Decimal(120), worked_seconds=3 * 3600)
    figs = oee.figures(segs, shift, [run], now=at(14), since=at(10))
    assert figs.planned_minutes == 240
    assert figs.run_minutes == 60
    assert figs.performance == pytest.approx(1.0)


def test_worked_seconds_leave_out_breaks_and_nights() -> None:
    cal = textbook_calendar()
    assert oee.worked_seconds(cal, at(8), at(12, 30)) == (60 + 135 + 30) * 60  # less 15 + 30 minutes of breaks
    assert oee.worked_seconds(cal, at(13), at(10, day=24)) == 45 * 60  # Tuesday has no hours


@pytest.mark.django_db
def test_a_station_that_runs_two_jobs_at_once_is_rated_for_two(site_a) -> None:
    """Capacity 2, ideal 10 minutes a unit: two 1-unit runs side by side 06:00-06:10
    make two units in ten minutes of running: P = 100 %, not 200 %."""
    site_a.time_zone = "UTC"
    site_a.save()
    plant = make_plant(site_a)
    plant.cut.capacity = 2
    plant.cut.save()
    WorkingHours.objects.create(site=site_a, weekday=0, start=T(6), end=T(14))
    Operation.objects.filter(routing=plant.routing, sequence=10).update(ideal_cycle_seconds=600)
    orders = [WorkOrderFactory(routing=plant.routing, quantity=Decimal(1)) for _ in range(2)]
    runs = []
    for order in orders:
        services.work_order_release(work_order=order, at=at(5))
        runs.append(OperationRun.objects.get(work_order=order, sequence=10))
    for run in runs:
        services.operation_start(run=run, at=at(6))
    for run in runs:
        services.operation_complete(run=run, good_quantity=Decimal(1), at=at(6, 10))
    report = oee_selectors.site_oee(site=site_a, start=at(0), end=at(23, 59), now=at(7))
    row = report.cell(plant.cut, report.shifts[0])
    assert row is not None
    assert row.figures.run_minutes == 10
    assert row.figures.performance == pytest.approx(1.0)
    assert row.figures.total == 2
