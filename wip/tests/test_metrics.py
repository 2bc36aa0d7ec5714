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
    assert "75%" in metrics.bottleneck.explanation
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
    assert figures["P-CUT"].utilisation == pytest.approx(0.75)


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
