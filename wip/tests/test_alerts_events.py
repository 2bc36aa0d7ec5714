"""Periodic alerts (overtime, WIP limit, late orders) and the events sent after commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories.wip import WorkOrderFactory, make_plant
from tracker.models import Alert
from wip import services, tasks
from wip.models import OperationRun

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)  # a Monday, inside working hours


def later(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def plant(site_a):
    site_a.time_zone = "UTC"
    site_a.save()
    return make_plant(site_a)


def open_alerts(kind):
    return list(Alert.objects.filter(kind=kind, cleared_at__isnull=True).values_list("subject", flat=True))


def test_overtime_alert_after_standard_time_times_factor(plant):
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    services.work_order_release(work_order=order, at=T0)
    run = OperationRun.objects.get(work_order=order, sequence=10)  # 10 + 2 × 10 = 30 min standard
    services.operation_start(run=run, at=T0)
    assert services.check_overtime(site=plant.site, now=later(44)) == 0  # limit 30 × 1.5 = 45 min
    assert services.check_overtime(site=plant.site, now=later(46)) == 1
    assert open_alerts(services.ALERT_OVERTIME) == [f"run:{run.pk}"]
    services.operation_complete(run=run, good_quantity=10, at=later(50))
    assert open_alerts(services.ALERT_OVERTIME) == []
    plant.site.settings = {"overtime_factor": 3}
    plant.site.save()
    nxt = OperationRun.objects.get(work_order=order, sequence=20)  # 5 + 3 × 10 = 35 min
    services.operation_start(run=nxt, at=later(50))
    assert services.check_overtime(site=plant.site, now=later(50 + 100)) == 0  # limit 105 min


def test_queue_over_wip_limit(plant):
    plant.cut.wip_limit = 1
    plant.cut.save()
    first = WorkOrderFactory(routing=plant.routing, quantity=Decimal(1))
    second = WorkOrderFactory(routing=plant.routing, quantity=Decimal(1))
    services.work_order_release(work_order=first, at=T0)
    assert tasks.check_wip_limits.delay(plant.site.pk).get() == 0
    services.work_order_release(work_order=second, at=T0)
    assert open_alerts(services.ALERT_QUEUE_OVER_LIMIT) == ["workstation:P-CUT"]  # raised at once
    assert tasks.check_wip_limits.delay(plant.site.pk).get() == 1
    services.work_order_cancel(work_order=second)
    tasks.check_wip_limits.delay()
    assert open_alerts(services.ALERT_QUEUE_OVER_LIMIT) == []


def test_work_order_that_will_miss_its_due_date(plant):
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10), due_at=later(30))
    services.work_order_release(work_order=order, at=T0)  # needs 75 min of work
    assert services.check_late(site=plant.site, now=T0) == 1
    assert open_alerts(services.ALERT_LATE) == [f"workorder:{order.number}"]
    type(order).objects.filter(pk=order.pk).update(due_at=later(600))
    assert services.check_late(site=plant.site, now=T0) == 0
    assert open_alerts(services.ALERT_LATE) == []


def test_events_after_commit(plant, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("tracker.realtime._send", lambda groups, event: sent.append((groups, event)))
    order = WorkOrderFactory(routing=plant.routing, number="EV-1", quantity=Decimal(2))
    with django_capture_on_commit_callbacks(execute=True):
        services.work_order_release(work_order=order, at=T0)
        run = OperationRun.objects.get(work_order=order, sequence=10)
        services.operation_start(run=run, at=later(1))
        services.operation_complete(run=run, good_quantity=2, at=later(10))
    types = [event["type"] for _, event in sent if event["type"].startswith(("workorder", "operation"))]
    assert types == ["workorder.released", "operation.started", "operation.completed", "workorder.moved"]
    moved_groups, moved = next((g, e) for g, e in sent if e["type"] == "workorder.moved")
    assert moved["work_order"] == "EV-1" and moved["from"] == "P-CUT" and moved["workstation"] == "P-ASM"
    assert (
        f"station.{plant.cut.location_id}" in moved_groups and f"station.{plant.assemble.location_id}" in moved_groups
    )
    assert moved["occurred_at"] == "2026-11-23T08:10:00Z"


def test_nothing_is_sent_when_the_write_fails(plant, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("tracker.realtime._send", lambda groups, event: sent.append(event))
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(2))
    services.work_order_release(work_order=order, at=T0)
    run = OperationRun.objects.get(work_order=order, sequence=10)
    services.operation_start(run=run, at=later(1))
    from inventory.models import StockLevel

    StockLevel.objects.filter(item=plant.steel).update(on_hand=0)  # the backflush will fail
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):
        services.operation_complete(run=run, good_quantity=2, at=later(10))
    assert not [e for e in sent if e["type"] == "operation.completed"]
