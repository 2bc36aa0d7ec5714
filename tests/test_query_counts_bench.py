"""Query counts of every endpoint the API benchmark drives (``python -m bench api``).

Each test makes the request the benchmark makes, authenticated the same way
(a partner key with every scope, or a supervisor's session for pages), after
one warm-up request, and asserts how many queries it runs; list endpoints are
checked with one row and with many rows. A change that adds a query to one of
these paths fails here, so it is seen in review before it shows up as a
slower benchmark. Endpoints that have not landed yet skip with the reason.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.urls import Resolver404, resolve

from tests.factories.tracker import LocationFactory, user_with_role
from tracker import services as tracker_services

pytestmark = pytest.mark.django_db


def _need(path: str) -> None:
    try:
        resolve(path)
    except Resolver404:
        pytest.skip(f"{path} is not routed yet")


def _key_client(api_client, user):
    try:
        from tracker.models import ApiKeyScope

        kwargs = {"scopes": list(ApiKeyScope.values)}
    except ImportError:
        kwargs = {}
    _, secret = tracker_services.api_key_create(user=user, name="bench", **kwargs)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api_client


@pytest.fixture
def partner(site_a):
    return user_with_role("partner", site_a)


@pytest.fixture
def partner_client(api_client, partner):
    return _key_client(api_client, partner)


@pytest.fixture
def zone(site_a):
    area = LocationFactory(site=site_a, code="QC-AREA", kind="area")
    return LocationFactory(site=site_a, code="QC-ZONE", kind="zone", parent=area)


def _bins(site, zone, n: int, prefix: str = "QC-B"):
    return [LocationFactory(site=site, code=f"{prefix}{i:02d}", kind="bin", parent=zone) for i in range(n)]


def _stock(items, bins, qty: str = "100"):
    from tests.factories.inventory import receive

    for item in items:
        for location in bins:
            receive(item, location, qty)


def _items(n: int, prefix: str = "QC-I"):
    from tests.factories.inventory import ItemFactory

    return [ItemFactory(sku=f"{prefix}{i:03d}") for i in range(n)]


def _count(call) -> int:
    """Queries one call runs (measured, for the list 1-vs-many comparison)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = call()
    assert response.status_code < 400, response.content[:500]
    return len(ctx.captured_queries)


# --- the ceiling -----------------------------------------------------------------


def test_ping_ceiling(partner_client, django_assert_num_queries):
    _need("/api/v1/ping/")
    partner_client.get("/api/v1/ping/")  # warm-up: the key's last_used_at touch happens here
    # None: the key, its user, sites and permissions come from the auth cache (tracker.api.key_cache).
    with django_assert_num_queries(0):
        response = partner_client.get("/api/v1/ping/")
    assert response.status_code == 200


def test_ping_needs_authentication(api_client):
    _need("/api/v1/ping/")
    assert api_client.get("/api/v1/ping/").status_code in (401, 403)


# --- inventory -----------------------------------------------------------------------


# 8 under the test transaction (the request's outermost atomic becomes a savepoint pair there, as it
# is BEGIN and COMMIT when served): the key, its user's permissions and sites come from the auth
# cache; the idempotency claim (one INSERT ... ON CONFLICT), the item and both locations (one query,
# inventory.selectors.keys), level lock, move insert, one update of both levels, record update. The
# service joins the request's transaction without a savepoint of its own (tracker.transactions).
# On PostgreSQL the levels' update travels with the move insert, as a WITH query: 7.
TRANSFER_QUERIES = {"postgresql": 7, "sqlite": 8}
# A receipt is posted as one batch whatever its lines: (the key, permissions and sites come from the
# auth cache) all the lines' items and locations and the site in one query; under the test the
# request's transaction is a savepoint pair; the idempotency claim, the supplier location, one level
# lock, one move insert, one level update, one insert into the reports' daily rollup, the receipt, the
# record update. (The transfer is inside one site: no rollup row.) On PostgreSQL the level update and
# the rollup's insert travel with the move insert: 9.
RECEIPT_QUERIES = {"postgresql": 9, "sqlite": 11}


def test_single_item_transfer_with_idempotency_key(partner_client, site_a, zone, django_assert_num_queries):
    _need("/api/v1/inventory/moves/")
    (item,) = _items(1)
    a, b = _bins(site_a, zone, 2)
    _stock([item], [a])

    def post(n):
        return partner_client.post(
            "/api/v1/inventory/moves/",
            {"kind": "transfer", "item": item.sku, "quantity": "1", "source": a.code, "destination": b.code},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    assert post(0).status_code == 201
    with django_assert_num_queries(TRANSFER_QUERIES[connection.vendor]):
        response = post(1)
    assert response.status_code == 201


@pytest.mark.parametrize("lines", [1, 10])
def test_receipt_query_count(partner_client, site_a, zone, lines, django_assert_num_queries):
    """A receipt's query count does not depend on its number of lines."""
    _need("/api/v1/inventory/receipts/")
    items = _items(10)
    bins = _bins(site_a, zone, 2)

    def post(ref):
        body = {
            "site": site_a.code,
            "reference": ref,
            "partner": "supplier",
            "lines": [{"item": items[i].sku, "quantity": "5", "location": bins[i % 2].code} for i in range(lines)],
        }
        return partner_client.post(
            "/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
        )

    assert post("PO-1").status_code == 201
    one = _count(lambda: post("PO-2"))
    assert one == RECEIPT_QUERIES[connection.vendor], f"{one} queries for a {lines}-line receipt"


def test_levels_list_within_subtree_constant(partner_client, site_a, zone):
    _need("/api/v1/inventory/levels/")
    url = f"/api/v1/inventory/levels/?within={zone.code}"
    (first,) = _items(1, prefix="QC-F")
    bins = _bins(site_a, zone, 1)
    _stock([first], bins)
    partner_client.get(url)
    one = _count(lambda: partner_client.get(url))
    _stock(_items(10), _bins(site_a, zone, 6, prefix="QC-M"))  # 60 more levels: a full page of 50
    many_response = partner_client.get(url)
    assert len(many_response.json()["results"]) == 50
    many = _count(lambda: partner_client.get(url))
    assert one == many, f"levels list: {one} queries for 1 row, {many} for 50"
    # the subtree root, the page with its count (the key, permissions and sites come from the auth cache)
    assert many == 2, f"levels list runs {many} queries"


def test_levels_of_one_item_across_a_site(partner_client, site_a, zone):
    _need("/api/v1/inventory/levels/")
    (item,) = _items(1)
    _stock([item], _bins(site_a, zone, 1))
    url = f"/api/v1/inventory/levels/?item={item.sku}&site={site_a.code}"
    partner_client.get(url)
    one = _count(lambda: partner_client.get(url))
    _stock([item], _bins(site_a, zone, 12, prefix="QC-X"))
    many = _count(lambda: partner_client.get(url))
    assert one == many, f"item levels: {one} queries for 1 level, {many} for 13"
    # the page with its count (the key, permissions and sites come from the auth cache)
    assert many == 1


# --- wip --------------------------------------------------------------------------------


def _wip_plant(site, orders: int, *, prefix: str = "QW"):
    """Two stations, a two-step routing (no inspection, no components), ``orders`` released orders."""
    from decimal import Decimal

    from tests.factories.inventory import ItemFactory
    from tests.factories.wip import OperationFactory, RoutingFactory, WorkOrderFactory, WorkstationFactory
    from wip import services as wip_services

    area = LocationFactory(site=site, code=f"{prefix}-LINE", kind="area")
    first = WorkstationFactory(site=site, code=f"{prefix}-WS1", parent=area, capacity=16)
    second = WorkstationFactory(site=site, code=f"{prefix}-WS2", parent=area, capacity=16)
    routing = RoutingFactory(site=site, code=f"{prefix}-RT", item=ItemFactory(sku=f"{prefix}-FG", kind="finished_good"))
    OperationFactory(routing=routing, sequence=10, workstation=first, run_minutes_per_unit=Decimal("1"))
    OperationFactory(routing=routing, sequence=20, workstation=second, run_minutes_per_unit=Decimal("1"))
    made = []
    for n in range(orders):
        order = WorkOrderFactory(routing=routing, number=f"{prefix}-WO{n:03d}", quantity=Decimal("1"))
        made.append(wip_services.work_order_release(work_order=order))
    return first, made


def _add_orders(site, first_station, n: int, prefix: str):
    from decimal import Decimal

    from tests.factories.wip import WorkOrderFactory
    from wip import services as wip_services
    from wip.models import Routing

    routing = Routing.objects.get(code=f"{first_station.code.rsplit('-', 1)[0]}-RT")
    for i in range(n):
        order = WorkOrderFactory(routing=routing, number=f"{prefix}-{i:03d}", quantity=Decimal("1"))
        wip_services.work_order_release(work_order=order)


@pytest.fixture
def supervisor_session(api_client, site_a):
    user = user_with_role("supervisor", site_a)
    api_client.force_login(user)
    return api_client


# Session auth (session, user, permissions) plus the run's lock, checks, transition and the next
# step's queueing; upper bounds, so a leaner transition passes.
# Each also keeps the station's run-derived state (OEE): start +2 (its open interval, opened
# when none is), complete +3 (whether another run still runs there, then closing it).
STEP_START_QUERIES, STEP_COMPLETE_QUERIES = 19, 21


def test_wip_step_start_and_complete(supervisor_session, site_a):
    _need("/api/v1/wip/runs/1/start/")
    from wip.models import OperationRun

    _, orders = _wip_plant(site_a, 2)
    runs = [OperationRun.objects.filter(work_order=o).order_by("sequence").first() for o in orders]
    client = supervisor_session
    # warm-up on the first order, measured on the second
    assert client.post(f"/api/v1/wip/runs/{runs[0].pk}/start/", {}, format="json").status_code == 200
    assert (
        client.post(f"/api/v1/wip/runs/{runs[0].pk}/complete/", {"good_quantity": "1"}, format="json").status_code
        == 200
    )
    start = _count(lambda: client.post(f"/api/v1/wip/runs/{runs[1].pk}/start/", {}, format="json"))
    complete = _count(
        lambda: client.post(f"/api/v1/wip/runs/{runs[1].pk}/complete/", {"good_quantity": "1"}, format="json")
    )
    assert start <= STEP_START_QUERIES, f"step start runs {start} queries"
    assert complete <= STEP_COMPLETE_QUERIES, f"step complete runs {complete} queries"


def test_dispatch_list_constant(supervisor_session, site_a):
    _need("/api/v1/wip/workstations/X/dispatch/")
    station, _ = _wip_plant(site_a, 1)
    url = f"/api/v1/wip/workstations/{station.code}/dispatch/"
    client = supervisor_session
    client.get(url)
    one = _count(lambda: client.get(url))
    _add_orders(site_a, station, 15, "QW-MORE")
    many = _count(lambda: client.get(url))
    assert one == many, f"dispatch list: {one} queries for 1 queued order, {many} for 16"
    # 12: the station's site is used as the lookup loaded it (it was read again before).
    assert many == 12, f"dispatch list runs {many} queries"


def test_wip_board_page_constant(client, site_a):
    _need("/wip/")
    user = user_with_role("supervisor", site_a)
    client.force_login(user)
    station, _ = _wip_plant(site_a, 1)
    client.get("/wip/")
    one = _count(lambda: client.get("/wip/"))
    _add_orders(site_a, station, 15, "QW-MORE")
    many = _count(lambda: client.get("/wip/"))
    assert one == many, f"WIP board: {one} queries for 1 order, {many} for 16"
    # 14: the 14 of the board, the user's role names (read once for the menus grouped per
    # role) and the site's station groups (the board's group filter), less the current site
    # (picked from the header's list of the user's sites) and the board's site check (the
    # request's granted site ids answer it).
    assert many == 14, f"WIP board runs {many} queries"
