"""The site plan cache: reused while nothing changes, recomputed after a committed WIP change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories.wip import WorkOrderFactory, make_plant
from wip import plan_cache, selectors, services
from wip.models import Workstation

# Real commits: the versions move in on_commit callbacks, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def released(site_a):
    plant = make_plant(site_a)
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal(10))
    services.work_order_release(work_order=order)
    return plant, order


def plan_queries(site) -> tuple[int, selectors.SitePlan]:
    with CaptureQueriesContext(connection) as ctx:
        plan = selectors.site_schedule(site=site)
    return len(ctx.captured_queries), plan


def test_no_change_reuses_the_plan(released):
    plant, order = released
    first_queries, first = plan_queries(plant.site)
    assert first_queries > 0
    queries, again = plan_queries(plant.site)
    assert queries == 0
    assert again.orders[order.number].eta == first.orders[order.number].eta
    assert [r.pk for r in again.active_runs] == [r.pk for r in first.active_runs]


def test_a_committed_wip_change_invalidates(released):
    plant, order = released
    _, before = plan_queries(plant.site)
    [run] = before.active_runs
    with transaction.atomic():
        services.operation_start(run=run, workstation=run.workstation)
    queries, after = plan_queries(plant.site)
    assert queries > 0
    assert [r.status for r in after.active_runs] == ["running"]


def test_a_wip_broadcast_bumps_and_others_do_not(released):
    # Bulk QuerySet.update() calls send no signal: the services' broadcast is what covers them.
    from tracker.realtime import broadcast

    plant, _ = released
    key = plan_cache._version_key(plant.site.pk)
    plan_queries(plant.site)
    version = plan_cache.cache.get(key)
    with transaction.atomic():
        broadcast(site_id=plant.site.pk, type="device.status", data={})
    assert plan_cache.cache.get(key) == version
    with transaction.atomic():
        broadcast(site_id=plant.site.pk, type="workorder.cancelled", data={})
        broadcast(site_id=plant.site.pk, type="operation.started", data={})
    assert plan_cache.cache.get(key) == version + 1


def test_cancel_invalidates(released):
    plant, order = released
    plan_queries(plant.site)
    services.work_order_cancel(work_order=order, reason="test")
    _, after = plan_queries(plant.site)
    assert order.number not in after.orders and after.active_runs == []


def test_uncommitted_changes_bypass_the_cache_and_store_nothing(released):
    plant, order = released
    plan_queries(plant.site)
    key = plan_cache._version_key(plant.site.pk)
    version = plan_cache.cache.get(key)
    with transaction.atomic():
        services.work_order_cancel(work_order=order, reason="test")
        queries, inside = plan_queries(plant.site)
        assert queries > 0 and inside.active_runs == []  # its own writes
        assert plan_cache.cache.get(key) == version  # others keep the committed plan until the commit
    assert plan_cache.cache.get(key) == version + 1  # one bump per transaction and site
    queries, after = plan_queries(plant.site)
    assert queries > 0 and after.active_runs == []


def test_an_explicit_now_is_never_cached(released):
    plant, _ = released
    now = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
    selectors.site_schedule(site=plant.site, now=now)
    with CaptureQueriesContext(connection) as ctx:
        plan = selectors.site_schedule(site=plant.site, now=now)
    assert ctx.captured_queries and plan.now == now


def test_station_config_change_invalidates(released):
    plant, _ = released
    plan_queries(plant.site)
    station = Workstation.objects.filter(site=plant.site).first()
    with transaction.atomic():
        with transaction.atomic():
            station.capacity = 3
            station.save()
    queries, after = plan_queries(plant.site)
    assert queries > 0 and after.station_models[station.code].capacity == 3
