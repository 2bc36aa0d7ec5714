"""The station panel's and the plant dashboard's OEE figures are read once per site WIP version
(and time bucket) and shared; a committed run, state, defect or reason change is seen at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.utils import timezone

from tests.factories.tracker import user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from wip import plan_cache, services
from wip.models import Defect, Disposition, OperationRun, ReasonCode
from wip.selectors import oee as oee_selectors

# Real commits: the versions move in on_commit callbacks, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plant(site_a):
    cache.clear()
    plant = make_plant(site_a)
    mechanical = ReasonCode.objects.create(site=site_a, code="mechanical", name="Mechanical")
    ReasonCode.objects.create(site=site_a, code="jam", name="Jam", parent=mechanical)
    return plant


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The OEE reports computed (by site code), whatever the time of day (outside working
    hours a report reads no state rows, so counting queries would depend on the clock)."""
    made: list[str] = []
    site_oee = oee_selectors.site_oee

    def counting(**kwargs):
        made.append(kwargs["site"].code)
        return site_oee(**kwargs)

    monkeypatch.setattr(oee_selectors, "site_oee", counting)
    return made


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_station_panel_is_read_once_per_version_and_shared(plant, reads):
    url = f"/wip/stations/{plant.cut.code}/"
    operator, supervisor = Client(), Client()
    operator.force_login(user_with_role("operator", plant.site))
    supervisor.force_login(user_with_role("supervisor", plant.site))
    _page(operator, url)
    assert len(reads) == 1
    # Nothing changed: another user's page shows the same figures without reading them again.
    page = _page(supervisor, url)
    assert len(reads) == 1
    assert "Idle: starved" in page and "Mechanical &gt; Jam" in page and "OEE today" in page

    # A committed stop moves the version: the very next page shows it.
    services.station_stop(workstation=plant.cut, reason=ReasonCode.objects.get(code="jam"))
    page = _page(operator, url)
    assert len(reads) == 2
    assert "Unplanned stop" in page and "Resume" in page
    services.station_resume(workstation=plant.cut)
    page = _page(operator, url)
    assert "Unplanned stop" not in page and "Idle: starved" in page


def test_a_committed_run_defect_or_reason_change_moves_the_version(plant):
    site_id = plant.site.pk
    order = WorkOrderFactory(routing=plant.routing, number="OC-1", quantity=Decimal(2))
    services.work_order_release(work_order=order)
    run = OperationRun.objects.get(work_order=order, sequence=10)
    first = oee_selectors.station_panel_data(workstation=plant.cut)
    assert first.state.state in ("idle_blocked", "idle_starved")
    version = plan_cache.current_version(site_id)

    services.operation_start(run=run, workstation=plant.cut)
    assert plan_cache.current_version(site_id) != version
    assert oee_selectors.station_panel_data(workstation=plant.cut).state.state == "running"

    version = plan_cache.current_version(site_id)
    Defect.objects.create(
        site=plant.site,
        work_order=order,
        run=run,
        code="scratch",
        quantity=Decimal(1),
        disposition=Disposition.SCRAP,
        reported_at=timezone.now(),
    )
    assert plan_cache.current_version(site_id) != version

    version = plan_cache.current_version(site_id)
    ReasonCode.objects.create(site=plant.site, code="power", name="Power cut")
    assert plan_cache.current_version(site_id) != version
    assert "Power cut" in [r.name for r in oee_selectors.station_panel_data(workstation=plant.cut).reasons]


def test_the_plant_dashboards_oee_is_read_once_per_version(plant, reads):
    manager = Client()
    manager.force_login(user_with_role("plant manager", plant.site))
    url = "/devices/live/plant/"
    _page(manager, url)
    _page(manager, url)
    assert len(reads) == 1
    services.station_stop(workstation=plant.cut, reason=ReasonCode.objects.get(code="jam"))
    assert "OEE" in _page(manager, url)
    assert len(reads) == 2


def test_the_time_bucket_bounds_how_old_a_figure_gets(plant, reads, monkeypatch):
    oee_selectors.current_shift_oee(site=plant.site)
    oee_selectors.current_shift_oee(site=plant.site)
    assert len(reads) == 1
    later = plan_cache.time.time() + plan_cache.PLAN_TTL
    monkeypatch.setattr(plan_cache.time, "time", lambda: later)
    oee_selectors.current_shift_oee(site=plant.site)
    assert len(reads) == 2


def test_a_transaction_that_changed_the_site_reads_its_own_writes(plant, reads):
    assert oee_selectors.station_panel_data(workstation=plant.cut).state.state == "idle_starved"
    with transaction.atomic():
        services.station_stop(workstation=plant.cut, reason=ReasonCode.objects.get(code="jam"))
        assert oee_selectors.station_panel_data(workstation=plant.cut).state.state == "unplanned_stop"
        assert oee_selectors.station_panel_data(workstation=plant.cut).state.state == "unplanned_stop"
    assert len(reads) == 3  # the two inside the transaction stored nothing
    assert oee_selectors.station_panel_data(workstation=plant.cut).state.state == "unplanned_stop"


def test_a_given_moment_is_read_afresh(plant, reads):
    now = timezone.now()
    oee_selectors.station_panel_data(workstation=plant.cut)
    oee_selectors.station_panel_data(workstation=plant.cut, now=now)
    oee_selectors.current_shift_oee(site=plant.site)
    oee_selectors.current_shift_oee(site=plant.site, now=now)
    assert len(reads) == 4
