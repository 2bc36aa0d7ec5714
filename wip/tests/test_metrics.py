"""Utilisation, queue and cycle times, yield, the bottleneck and Little's law
against a small example worked out by hand, plus the site schedule/ETA from the DB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories.wip import WorkOrderFactory, make_plant
from wip import dispatch, selectors
from wip.models import Operation, OperationRun, WorkingHours, WorkOrder

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def plant(site_a):
    site_a.time_zone = "UTC"
    site_a.save()
    return make_plant(site_a)


def put_run(order, station, sequence, *, qty, queued, started=None, finished=None, good=0, scrap=0, attempt=1):
    operation = Operation.objects.get(routing=order.routing, sequence=sequence)
    status = "done" if finished else ("running" if started else "queued")
    return OperationRun.objects.create(
        site=order.site,
        work_order=order,
        operation=operation,
        sequence=sequence,
        attempt=attempt,
        status=status,
        quantity=Decimal(qty),
        good_quantity=Decimal(good),
        scrap_quantity=Decimal(scrap),
        workstation=station,
        queued_at=queued,
        started_at=started,
        finished_at=finished,
        planned_minutes=Decimal(60),
    )


@pytest.fixture
def history(plant):
    """Monday 06:00-14:00 (8 working hours of the default calendar).

    CUT: run1 queued 06:00, ran 06:00-10:00 (9 good, 1 scrap)
         run2 queued 07:00, ran 10:00-12:00 (10 good)
         run3 queued 11:00, still waiting at 14:00
    ASM: run4 queued 10:00, ran 12:00-13:00 (9 good)
    """
    orders = [WorkOrderFactory(routing=plant.routing, quantity=Decimal(10)) for _ in range(3)]
    WorkOrder.objects.filter(pk__in=[o.pk for o in orders]).update(status="in_progress")
    put_run(orders[0], plant.cut, 10, qty=10, queued=at(6), started=at(6), finished=at(10), good=9, scrap=1)
    put_run(orders[1], plant.cut, 10, qty=10, queued=at(7), started=at(10), finished=at(12), good=10)
    put_run(orders[2], plant.cut, 10, qty=10, queued=at(11))
    put_run(orders[0], plant.assemble, 20, qty=9, queued=at(10), started=at(12), finished=at(13), good=9)
    return plant


def test_station_figures_match_the_hand_computed_example(history):
    figures = {m.code: m for m in selectors.station_metrics(site=history.site, start=at(6), end=at(14), now=at(14))}
    cut, asm, test = figures["P-CUT"], figures["P-ASM"], figures["P-TEST"]
    assert cut.busy_hours == pytest.approx(6)  # 4 h + 2 h
    assert cut.available_hours == pytest.approx(8)
    assert cut.utilisation == pytest.approx(0.75)
    assert cut.avg_queue_minutes == pytest.approx(90)  # (0 + 180) / 2
    assert cut.avg_cycle_minutes == pytest.approx(270)  # (240 + 300) / 2
    assert cut.finished == 2
    assert cut.throughput_per_hour == pytest.approx(0.25)
    assert cut.first_pass_yield == pytest.approx(0.95)  # 19 good of 20
    assert cut.scrap_rate == pytest.approx(0.05)
    assert (cut.queue_length, cut.wip) == (1, 1)
    assert cut.avg_wip == pytest.approx(1.5)  # (4 + 5 + 3) h present over 8 h
    assert cut.littles_law == pytest.approx(1.125)  # 0.25/h × 4.5 h
    assert asm.utilisation == pytest.approx(0.125)
    assert asm.avg_queue_minutes == pytest.approx(120)
    assert test.utilisation == 0 and test.finished == 0


def test_bottleneck_is_named_and_explained(history):
    metrics = selectors.site_metrics(site=history.site, start=at(6), end=at(14), now=at(14))
    assert metrics.bottleneck.code == "P-CUT"
    assert "75 %" in metrics.bottleneck.explanation
    assert "P-ASM (120 min)" in metrics.bottleneck.explanation
    assert metrics.scrap_rate == pytest.approx(1 / 29)
    assert metrics.first_pass_yield == pytest.approx(28 / 29)
    assert metrics.queue_length == 1


def test_utilisation_follows_capacity_and_calendar(history):
    history.cut.capacity = 2
    history.cut.save()
    # Monday 06:00-10:00 only: half the default day.
    WorkingHours.objects.create(site=history.site, weekday=0, start=dt.time(6), end=dt.time(10))
    figures = {m.code: m for m in selectors.station_metrics(site=history.site, start=at(6), end=at(14), now=at(14))}
    assert figures["P-CUT"].available_hours == pytest.approx(8)  # 4 h × 2 machines
    # Only work inside the calendar counts: run1 06:00-10:00; run2 (10:00-12:00) is outside it.
    assert figures["P-CUT"].busy_hours == pytest.approx(4)
    assert figures["P-CUT"].utilisation == pytest.approx(0.5)
    # ASM ran 12:00-13:00, outside the calendar: no busy time to set against the 4 h it had.
    assert figures["P-ASM"].busy_hours == 0


def test_site_schedule_gives_eta_and_risk(plant):
    # One order of 10 released at Monday 08:00: steps 30 + 35 + 10 min back to back.
    from wip import services

    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10), due_at=at(9, 20))
    services.work_order_release(work_order=order, at=at(8))
    plan = selectors.site_schedule(site=plant.site, now=at(8))
    estimate = plan.orders[order.number]
    assert estimate.eta == at(9, 15)
    assert estimate.risk == dispatch.AT_RISK  # 5 min margin < 20 % of 75 min
    late = WorkOrderFactory(routing=plant.routing, quantity=Decimal(1), due_at=at(8, 30), priority=9)
    services.work_order_release(work_order=late, at=at(8))
    plan = selectors.site_schedule(site=plant.site, now=at(8))
    # Priority 9 queues behind the first order at every station:
    # CUT 08:30-08:42, ASM 09:05-09:13 (the first holds it 08:30-09:05), TEST 09:15-09:16.
    assert [(s.station, s.start, s.end) for s in plan.orders[late.number].steps] == [
        ("P-CUT", at(8, 30), at(8, 42)),
        ("P-ASM", at(9, 5), at(9, 13)),
        ("P-TEST", at(9, 15), at(9, 16)),
    ]
    assert plan.orders[late.number].eta == at(9, 16)
    assert plan.orders[late.number].risk == dispatch.LATE


def test_a_window_does_not_count_time_before_the_site_existed(plant):
    """A plant started at 13:00 whose cutter has run non-stop since: 'last 24 h' at 14:00
    is one hour of it, busy all that hour (not 1/24)."""
    type(plant.site).objects.filter(pk=plant.site.pk).update(created_at=at(13))
    plant.site.refresh_from_db()
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    put_run(order, plant.cut, 10, qty=10, queued=at(13), started=at(13))
    figures = {
        m.code: m for m in selectors.station_metrics(site=plant.site, start=at(14, day=22), end=at(14), now=at(14))
    }
    assert figures["P-CUT"].available_hours == pytest.approx(1)
    assert figures["P-CUT"].busy_hours == pytest.approx(1)
    assert figures["P-CUT"].utilisation == pytest.approx(1.0)
    metrics = selectors.site_metrics(site=plant.site, start=at(14, day=22), end=at(14), now=at(14))
    assert metrics.start == at(13)


def test_work_recorded_before_the_site_row_counts_from_its_first_run(plant):
    # Imported or simulated history dated before the site row was created still counts.
    type(plant.site).objects.filter(pk=plant.site.pk).update(created_at=at(12))
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    put_run(order, plant.cut, 10, qty=10, queued=at(8), started=at(8), finished=at(10), good=10)
    plant.site.refresh_from_db()
    assert selectors.site_since(site=plant.site) == at(8)
    figures = {m.code: m for m in selectors.station_metrics(site=plant.site, start=at(0), end=at(12), now=at(12))}
    assert figures["P-CUT"].available_hours == pytest.approx(4)  # 08:00-12:00
    assert figures["P-CUT"].utilisation == pytest.approx(0.5)


def test_current_shift_follows_the_calendar():
    week = dispatch.WorkingCalendar.default("UTC")  # Monday-Friday 06:00-22:00: two 8-hour shifts
    assert selectors.shift_at(week, at(15)) == (at(14), at(22))
    assert selectors.shift_at(week, at(7)) == (at(6), at(14))
    # Saturday 10:00 (23 Nov 2026 is a Monday): the last shift worked, Friday's late one.
    assert selectors.shift_at(week, at(10, day=28)) == (at(14, day=27), at(22, day=27))
    early = dispatch.WorkingCalendar({0: [(dt.time(7), dt.time(15, 30))]}, "UTC")
    assert selectors.shift_at(early, at(9)) == (at(7), at(15, 30))  # one window of 8.5 h is one shift
    around_the_clock = dispatch.WorkingCalendar({d: [(dt.time(0), dt.time(0))] for d in range(7)}, "UTC")
    assert selectors.shift_at(around_the_clock, at(3)) == (at(0), at(8))
    assert selectors.shift_at(around_the_clock, at(23, 59)) == (at(16), at(0, day=24))


def test_early_on_the_bottleneck_is_where_work_waits(plant):
    """Ten minutes in: CUT finished one job and is busy; ASM holds 5 waiting jobs against a
    limit of 4 and has barely started. The queue names ASM, and the text says on what."""
    plant.assemble.wip_limit = 4
    plant.assemble.save()
    orders = [WorkOrderFactory(routing=plant.routing, quantity=Decimal(1)) for _ in range(7)]
    put_run(orders[0], plant.cut, 10, qty=1, queued=at(6), started=at(6), finished=at(6, 5), good=1)
    put_run(orders[1], plant.cut, 10, qty=1, queued=at(6), started=at(6, 5))
    put_run(orders[2], plant.assemble, 20, qty=1, queued=at(6), started=at(6, 8))
    for order in orders[3:]:
        put_run(order, plant.assemble, 20, qty=1, queued=at(6))
    order = orders[6]
    put_run(order, plant.assemble, 20, qty=1, queued=at(6), attempt=2)
    metrics = selectors.site_metrics(site=plant.site, start=at(6), end=at(6, 10), now=at(6, 10))
    cut = {s.code: s for s in metrics.stations}["P-CUT"]
    assert cut.utilisation == pytest.approx(1.0)  # busy the whole ten minutes
    bottleneck = metrics.bottleneck
    assert bottleneck.code == "P-ASM"
    assert bottleneck.early and bottleneck.finished_runs == 1
    assert bottleneck.queue_length == 5
    assert "5 jobs wait in front of it" in bottleneck.explanation
    assert "6 in WIP against a limit of 4" in bottleneck.explanation
    assert "Based on 1 finished run over 10 min of working time" in bottleneck.explanation


def test_with_enough_data_utilisation_decides(history):
    # Eleven more finished runs at ASM, short ones: ASM has the data and the queue, CUT the utilisation.
    for _ in range(11):
        order = WorkOrderFactory(routing=history.routing, quantity=Decimal(1))
        put_run(order, history.assemble, 20, qty=1, queued=at(13), started=at(13), finished=at(13, 1), good=1)
    metrics = selectors.site_metrics(site=history.site, start=at(6), end=at(14), now=at(14))
    assert not metrics.bottleneck.early
    assert metrics.bottleneck.code == "P-CUT"
    assert "busy 75 % of its available time" in metrics.bottleneck.explanation


def test_a_station_added_later_counts_from_its_creation(plant):
    """The site started at midnight; a station added at 10:00 has 4 of the window's 8 working hours."""
    from tests.factories.wip import WorkstationFactory
    from tracker.models import Site
    from wip.models import Workstation

    Site.objects.filter(pk=plant.site.pk).update(created_at=at(0))
    Workstation.objects.filter(site=plant.site).update(created_at=at(0, 5))  # set up with the site
    plant.site.refresh_from_db()
    late = WorkstationFactory(site=plant.site, code="P-LATE", created_at=at(10))
    WorkstationFactory(site=plant.site, code="P-IDLE", created_at=at(12))
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    put_run(order, late, 10, qty=10, queued=at(10), started=at(10), finished=at(12), good=10)
    figures = {m.code: m for m in selectors.station_metrics(site=plant.site, start=at(6), end=at(14), now=at(14))}
    assert figures["P-LATE"].available_hours == pytest.approx(4)
    assert figures["P-LATE"].utilisation == pytest.approx(0.5)
    assert figures["P-LATE"].period_hours == pytest.approx(4)
    assert figures["P-IDLE"].available_hours == pytest.approx(2) and figures["P-IDLE"].utilisation == 0
    assert figures["P-CUT"].available_hours == pytest.approx(8)  # set up with the site: the whole window


def test_a_station_created_after_recorded_work_began_with_it(plant):
    """History recorded (imported) before the station's row existed: the station existed by its first run."""
    from tests.factories.wip import WorkstationFactory
    from tracker.models import Site
    from wip.models import Workstation

    Site.objects.filter(pk=plant.site.pk).update(created_at=at(0))
    Workstation.objects.filter(site=plant.site).update(created_at=at(0, 5))  # set up with the site
    plant.site.refresh_from_db()
    late = WorkstationFactory(site=plant.site, code="P-LATE", created_at=at(13))
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    put_run(order, late, 10, qty=10, queued=at(8), started=at(8), finished=at(11), good=10)
    figures = {m.code: m for m in selectors.station_metrics(site=plant.site, start=at(6), end=at(14), now=at(14))}
    assert figures["P-LATE"].available_hours == pytest.approx(6)  # from 08:00
    assert figures["P-LATE"].utilisation == pytest.approx(0.5)
