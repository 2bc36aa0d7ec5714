"""Stations in flow order: the WIP board's columns and the plant dashboard follow the
routings (how far along its routing a station's earliest step is), not the codes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.live.selectors import dashboard
from tests.factories.inventory import LotItemFactory
from tests.factories.tracker import user_with_role
from tests.factories.wip import OperationFactory, RoutingFactory, WorkstationFactory, WorkstationGroupFactory
from wip.models import Workstation
from wip.selectors import wip_board

pytestmark = pytest.mark.django_db
FLOW = ["CUT", "WELD-1", "WELD-2", "PAINT", "ASSY", "TEST", "PACK", "IDLE"]


@pytest.fixture
def line(site_a):
    """Stations made in code order (so neither code nor creation order is the flow); two
    welders share a group; a cart goes through every step, a shelf skips welding and test
    (its PACK is step 40, before the cart's TEST at 50); an inactive routing starts at PACK."""
    welders = WorkstationGroupFactory(site=site_a, code="welders")
    made = {
        code: WorkstationFactory(site=site_a, code=code, group=welders if code.startswith("WELD") else None)
        for code in sorted(FLOW)
    }
    cart = RoutingFactory(site=site_a, item=LotItemFactory(sku="CART"))
    for n, code in enumerate(["CUT", "welders", "PAINT", "ASSY", "TEST", "PACK"], start=1):
        target = {"group": welders} if code == "welders" else {"workstation": made[code]}
        OperationFactory(routing=cart, sequence=10 * n, **target)
    shelf = RoutingFactory(site=site_a, item=LotItemFactory(sku="SHELF"))
    for n, code in enumerate(["CUT", "PAINT", "ASSY", "PACK"], start=1):
        OperationFactory(routing=shelf, sequence=10 * n, workstation=made[code])
    old = RoutingFactory(site=site_a, item=LotItemFactory(sku="OLD"), active=False)
    OperationFactory(routing=old, sequence=10, workstation=made["PACK"])
    return made


def test_stations_in_flow_order(site_a, line):
    ordered = list(Workstation.objects.filter(site=site_a).in_flow_order())
    assert [ws.code for ws in ordered] == FLOW
    assert [round(ws.flow_position, 3) if ws.flow_position is not None else None for ws in ordered] == [
        0.167,
        0.333,
        0.333,
        0.5,
        0.667,
        0.833,
        1.0,
        None,
    ]


def test_board_columns_follow_the_flow(site_a, line):
    supervisor = user_with_role("supervisor", site_a)
    columns = wip_board(user=supervisor, site=site_a)
    assert [c.workstation.code for c in columns if c.workstation] == FLOW
    assert columns[-1].key == "other"
    client = Client()
    client.force_login(supervisor)
    page = client.get("/wip/").content.decode()
    positions = [page.index(f'href="/wip/stations/{code}/"') for code in FLOW]
    assert positions == sorted(positions)


def test_plant_dashboard_uses_the_same_order(site_a, line):
    rows = dashboard(user=user_with_role("plant manager", site_a), site=site_a).stations
    assert [r.code for r in rows] == FLOW


def test_board_queries_do_not_grow_with_stations_and_routings(site_a, line):
    client = Client()
    client.force_login(user_with_role("supervisor", site_a))
    client.get("/wip/")
    with CaptureQueriesContext(connection) as few:
        client.get("/wip/")
    more = [WorkstationFactory(site=site_a, code=f"EXTRA-{n}") for n in range(6)]
    routing = RoutingFactory(site=site_a, item=LotItemFactory(sku="EXTRA"))
    for n, ws in enumerate(more, start=1):
        OperationFactory(routing=routing, sequence=n, workstation=ws)
    with CaptureQueriesContext(connection) as many:
        client.get("/wip/")
    assert len(many.captured_queries) == len(few.captured_queries)
