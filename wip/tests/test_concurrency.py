"""Concurrent writers on PostgreSQL: the station's capacity and a run's state hold."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from tests.factories.wip import WorkOrderFactory, make_plant
from tracker.errors import DomainError
from wip import services
from wip.models import OperationRun, RunStatus


def _race(targets):
    barrier = threading.Barrier(len(targets))
    outcomes: list = [None] * len(targets)

    def run(index, fn):
        try:
            barrier.wait()
            fn()
            outcomes[index] = "ok"
        except DomainError as exc:
            outcomes[index] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_at_a_single_machine_station(site_a):
    plant = make_plant(site_a)
    runs = []
    for _ in range(4):
        order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(1))
        services.work_order_release(work_order=order)
        runs.append(OperationRun.objects.get(work_order=order, sequence=10))
    outcomes = _race([lambda r=r: services.operation_start(run=r) for r in runs])
    assert sorted(outcomes) == ["ok", "station_at_capacity", "station_at_capacity", "station_at_capacity"]
    assert OperationRun.objects.filter(workstation=plant.cut, status=RunStatus.RUNNING).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_run_completed_twice_at_once(site_a):
    plant = make_plant(site_a)
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(5))
    services.work_order_release(work_order=order)
    run = OperationRun.objects.get(work_order=order, sequence=10)
    services.operation_start(run=run)
    outcomes = _race([lambda: services.operation_complete(run=run, good_quantity=5) for _ in range(3)])
    assert sorted(outcomes) == ["invalid_transition", "invalid_transition", "ok"]
    from inventory.models import StockMove

    assert StockMove.objects.filter(reference=order.number, kind="issue").count() >= 1
    issued = sum(m.quantity for m in StockMove.objects.filter(reference=order.number, kind="issue"))
    assert issued == 10  # 2 steel per unit, once
    assert OperationRun.objects.filter(work_order=order, sequence=20, status=RunStatus.QUEUED).count() == 1
