"""Transfers that travel (#17): dispatched into in-transit, received in full or in part
with discrepancies, closed with the shortfall written off, overdue alerts, a dock read
that receives, the API per side, and the ledger invariant throughout."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import services
from inventory.models import StockLevel, StockMove, TransferDiscrepancy, TransferOrder
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tests.scoping import DetailWrite, ScopedEndpointMatrix, covers, nothing_written, results
from tracker.models import Alert, LocationKind
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/transfer-orders/"


class Route:
    """Stock at site A's stores; site B's dock to receive it."""

    def __init__(self, site_a, site_b, prefix: str = "") -> None:
        self.a, self.b = site_a, site_b
        self.stores = LocationFactory(site=site_a, kind="zone", code=f"{prefix}A-STORES")
        self.dock = LocationFactory(site=site_b, kind="dock", code=f"{prefix}B-DOCK")
        self.shelf = LocationFactory(site=site_b, kind="bin", code=f"{prefix}B-SHELF")
        self.glue = LotItemFactory(sku=f"{prefix}GLUE")
        self.bolt = ItemFactory(sku=f"{prefix}BOLT")
        receive(self.glue, self.stores, 10, lot_code=f"{prefix}G-1")
        receive(self.bolt, self.stores, 20)
        self.lot = self.glue.lots.get(code=f"{prefix}G-1")

    def order(self, **kwargs) -> TransferOrder:
        return services.transfer_order_create(
            source=self.stores,
            destination=self.dock,
            lines=[
                {"item": self.glue, "quantity": D(10), "lot": self.lot},
                {"item": self.bolt, "quantity": D(5)},
            ],
            **kwargs,
        )

    def level(self, item, location) -> D:
        row = StockLevel.objects.filter(item=item, location=location).first()
        return row.on_hand if row else D(0)


@pytest.fixture
def route(site_a, site_b) -> Route:
    return Route(site_a, site_b)


def test_dispatch_partial_receipt_overage_and_close_with_the_shortfall(route):
    order = route.order(reference="ERP-77")
    transit = virtual_location(site=route.a, kind=LocationKind.TRANSIT)
    moves = services.transfer_order_dispatch(order=order)
    assert {(m.source, m.destination) for m in moves} == {(route.stores, transit)}
    order.refresh_from_db()
    assert order.status == "in_transit" and order.expected_by == order.dispatched_at + dt.timedelta(hours=48)
    assert route.level(route.glue, route.stores) == 0 and route.level(route.glue, transit) == 10
    glue_line, bolt_line = order.lines.order_by("pk")
    # Part of the glue arrives; more bolts arrive than were sent (with the reason).
    services.transfer_order_receive(
        order=order,
        lines=[
            {"line": glue_line.pk, "quantity": D(6)},
            {"item": route.bolt, "quantity": D(7), "reason": "2 extra boxes packed by mistake"},
        ],
    )
    order.refresh_from_db()
    assert order.status == "partial"
    assert route.level(route.glue, route.dock) == 6 and route.level(route.bolt, route.dock) == 7
    assert route.level(route.glue, transit) == 4 and route.level(route.bolt, transit) == 0
    overage = TransferDiscrepancy.objects.get(kind="overage")
    assert (overage.line_id, overage.quantity) == (bolt_line.pk, D(2))
    adjustment_b = virtual_location(site=route.b, kind=LocationKind.ADJUSTMENT)
    assert StockMove.objects.filter(source=adjustment_b, destination=route.dock, quantity=2).exists()
    # Closed: the 4 that never arrived are written off from in-transit to A's adjustment location.
    services.transfer_order_close(order=order, reason="pallet lost by the carrier")
    order.refresh_from_db()
    assert order.status == "closed" and order.close_reason == "pallet lost by the carrier"
    shortfall = TransferDiscrepancy.objects.get(kind="shortfall")
    assert (shortfall.line_id, shortfall.quantity) == (glue_line.pk, D(4))
    adjustment_a = virtual_location(site=route.a, kind=LocationKind.ADJUSTMENT)
    assert StockMove.objects.filter(source=transit, destination=adjustment_a, quantity=4, lot=route.lot).exists()
    assert route.level(route.glue, transit) == 0
    assert all(line.in_transit == 0 for line in order.lines.all())
    call_command("verify_ledger")


def test_bad_steps_are_refused_and_change_nothing(route):
    order = route.order()
    with nothing_written(), pytest.raises(services.errors.CountNotOpen):
        services.transfer_order_receive(order=order, lines=[{"item": route.bolt, "quantity": D(1)}])
    services.transfer_order_dispatch(order=order)
    with nothing_written(), pytest.raises(services.errors.CountNotOpen):
        services.transfer_order_dispatch(order=order)
    with nothing_written(), pytest.raises(services.errors.LinesInvalid) as caught:
        services.transfer_order_receive(
            order=order,
            lines=[{"item": route.bolt, "quantity": D(6)}, {"item": route.glue, "quantity": D(1)}],
        )
    # The overage without a reason, and the glue named without its lot (no such line): both named.
    assert [(line, exc.code) for line, exc in caught.value.problems] == [(0, "reason_required"), (1, "not_found")]
    with nothing_written(), pytest.raises(services.errors.InvalidLocation):
        services.transfer_order_receive(
            order=order, lines=[{"item": route.bolt, "quantity": D(1)}], location=route.stores
        )
    with nothing_written(), pytest.raises(services.errors.ReasonRequired):
        services.transfer_order_close(order=order, reason=" ")


def test_creating_names_every_bad_line_and_a_dispatch_checks_stock(route):
    with nothing_written(), pytest.raises(services.errors.LinesInvalid) as caught:
        services.transfer_order_create(
            source=route.stores,
            destination=route.dock,
            lines=[{"item": route.glue, "quantity": D(1)}, {"item": route.bolt, "quantity": D("1.5")}],
        )
    assert [line for line, _ in caught.value.problems] == [0, 1]
    with pytest.raises(services.errors.InvalidLocation):
        services.transfer_order_create(
            source=route.stores, destination=route.stores, lines=[{"item": route.bolt, "quantity": D(1)}]
        )
    big = services.transfer_order_create(
        source=route.stores, destination=route.dock, lines=[{"item": route.bolt, "quantity": D(21)}]
    )
    with nothing_written(), pytest.raises(services.errors.LinesInvalid):
        services.transfer_order_dispatch(order=big)


def test_overdue_transfers_alert_at_the_destination_once(route):
    order = route.order()
    services.transfer_order_dispatch(order=order)
    assert services.transfer_orders_overdue_sweep() == 0
    later = timezone.now() + dt.timedelta(hours=49)
    assert services.transfer_orders_overdue_sweep(now=later) == 1
    alert = Alert.objects.get(kind="transfer.overdue")
    assert alert.site == route.b and alert.subject == f"transfer:{order.number}"
    assert services.transfer_orders_overdue_sweep(now=later) == 0
    # A site with a shorter transit time reports sooner.
    route.b.expected_transit_hours = 2
    route.b.save()
    quick = services.transfer_order_create(
        source=route.stores, destination=route.dock, lines=[{"item": route.bolt, "quantity": D(5)}]
    )
    services.transfer_order_dispatch(order=quick)
    assert services.transfer_orders_overdue_sweep(now=timezone.now() + dt.timedelta(hours=3)) == 1


def test_a_tag_read_at_the_destination_dock_receives_the_lot(route):
    order = route.order()
    services.transfer_order_dispatch(order=order)
    assert services.transfer_order_receive_tagged(lot=route.lot, location=route.shelf) == []  # not a dock
    moves = services.transfer_order_receive_tagged(lot=route.lot, location=route.dock)
    assert [(m.destination, m.quantity) for m in moves] == [(route.dock, D(10))]
    assert services.transfer_order_receive_tagged(lot=route.lot, location=route.dock) == []  # nothing left
    order.refresh_from_db()
    assert order.status == "partial"  # the bolts still travel


# --- the API ------------------------------------------------------------------------------


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_each_site_acts_on_its_side_through_the_api(route):
    shipper = _client(user_with_role("warehouse clerk", route.a))
    receiver = _client(user_with_role("warehouse clerk", route.b))
    created = shipper.post(
        URL,
        {
            "source": route.stores.code,
            "destination": route.dock.code,
            "reference": "ERP-9",
            "lines": [{"item": "GLUE", "lot": "G-1", "quantity": "10"}, {"item": "BOLT", "quantity": "5"}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="to-1",
    )
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    detail = f"{URL}{number}/"
    # The destination sees it, but dispatching is the source's step.
    assert receiver.get(detail).status_code == 200
    with nothing_written():
        assert receiver.post(f"{detail}dispatch/").status_code == 403
    dispatched = shipper.post(f"{detail}dispatch/", HTTP_IDEMPOTENCY_KEY="to-1-dispatch")
    assert dispatched.status_code == 200, dispatched.content
    assert shipper.post(f"{detail}dispatch/", HTTP_IDEMPOTENCY_KEY="to-1-dispatch").status_code == 200  # replay
    rows = receiver.get(f"{URL}in-transit/?site={route.b.code}").json()
    assert {(r["direction"], r["item"], r["quantity"]) for r in rows} == {
        ("inbound", "GLUE", "10.0000"),
        ("inbound", "BOLT", "5.0000"),
    }
    assert {r["direction"] for r in shipper.get(f"{URL}in-transit/?site={route.a.code}").json()} == {"outbound"}
    with nothing_written():
        assert (
            shipper.post(f"{detail}receive/", {"lines": [{"item": "BOLT", "quantity": "5"}]}, format="json").status_code
            == 403
        )
    received = receiver.post(
        f"{detail}receive/",
        {"lines": [{"item": "GLUE", "lot": "G-1", "quantity": "8"}, {"item": "BOLT", "quantity": "5"}]},
        format="json",
    )
    assert received.status_code == 200, received.content
    closed = receiver.post(f"{detail}close/", {"reason": "2 damaged, binned by the carrier"}, format="json")
    assert closed.status_code == 200, closed.content
    body = receiver.get(detail).json()
    assert body["status"] == "closed"
    assert [(d["kind"], d["quantity"]) for line in body["lines"] for d in line["discrepancies"]] == [
        ("shortfall", "2.0000")
    ]
    call_command("verify_ledger")


@covers(
    "inventory-transfer-order-receive POST",
    "inventory-transfer-order-in-transit GET",
    "inventory-transfer-order-list POST",
)
def test_a_third_sites_user_sees_nothing_and_moves_nothing(route):
    order = route.order()
    services.transfer_order_dispatch(order=order)
    outsider = _client(user_with_role("plant manager", SiteFactory(code="plant-c")))
    assert results(outsider.get(URL)) == []
    with nothing_written():
        assert outsider.get(f"{URL}{order.number}/").status_code == 404
        assert (
            outsider.post(
                f"{URL}{order.number}/receive/", {"lines": [{"item": "BOLT", "quantity": "5"}]}, format="json"
            ).status_code
            == 404
        )
        assert outsider.get(f"{URL}in-transit/?site={route.b.code}").status_code == 404
        refused = outsider.post(
            URL,
            {"source": route.stores.code, "destination": route.dock.code, "lines": [{"item": "BOLT", "quantity": "1"}]},
            format="json",
        )
    assert refused.status_code == 400 and "source" in refused.json()["errors"]
    receiver = _client(user_with_role("plant manager", route.b))
    assert (
        receiver.post(
            f"{URL}{order.number}/receive/", {"lines": [{"item": "BOLT", "quantity": "5"}]}, format="json"
        ).status_code
        == 200
    )
    assert receiver.get(f"{URL}in-transit/?site={route.b.code}").status_code == 200


def test_transfer_orders_list_query_count_does_not_grow(site_a, site_b):
    route = Route(site_a, site_b)
    client = _client(user_with_role("plant manager", site_a, site_b))

    def count() -> int:
        client.get(URL)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    services.transfer_order_dispatch(order=route.order())
    one = count()
    for _ in range(4):  # more orders (drafts: the stock covers one dispatch), each with its lines
        route.order()
    assert count() == one


class TestTransferOrdersScoped(ScopedEndpointMatrix):
    list_url = URL
    key_field = "number"
    viewer_roles = tuple(r for r in ScopedEndpointMatrix.viewer_roles if r != "operator")
    detail_writes = {
        "inventory-transfer-order-dispatch": DetailWrite(suffix="dispatch/"),
        "inventory-transfer-order-close": DetailWrite(suffix="close/", body={"reason": "cancelled"}),
        # No location: the user's own order gets as far as the body's validation (400).
        "inventory-transfer-order-found": DetailWrite(suffix="found/", body={"serial": "X"}),
    }

    def make_object(self, site):
        far = SiteFactory(code=f"{site.code}-far")
        route = Route(site, far, prefix=f"{site.code}-")
        return services.transfer_order_create(
            source=route.stores, destination=route.dock, lines=[{"item": route.bolt, "quantity": D(1)}]
        )


@covers("inventory:in_transit GET")
def test_the_in_transit_page_shows_each_sites_side(route):
    from django.test import Client

    order = route.order()
    services.transfer_order_dispatch(order=order)
    for site, heading, other in (
        (route.b, "Coming to", "Nothing travelling from here."),
        (route.a, "Sent from", "Nothing on its way here."),
    ):
        client = Client()
        client.force_login(user_with_role("warehouse clerk", site))
        body = client.get("/inventory/in-transit/").content.decode()
        assert order.number in body and heading in body and other in body and "GLUE" in body
    outsider = Client()
    outsider.force_login(user_with_role("warehouse clerk", SiteFactory(code="plant-c")))
    body = outsider.get("/inventory/in-transit/").content.decode()
    assert order.number not in body


def test_each_order_gets_its_own_number_and_a_taken_number_is_a_conflict(route):
    """Numbers come from the row's id (a count + 1 gave two orders made at once one number,
    and the second a 500); a number the caller names that is taken is a 409 and makes nothing."""
    from tracker.errors import Conflict

    first, second = route.order(), route.order()
    assert first.number != second.number
    assert first.number.endswith(f"{first.pk:05d}") and TransferOrder.objects.get(pk=first.pk).number == first.number
    named = route.order(number="TO-ERP-1")
    assert named.number == "TO-ERP-1"
    before = TransferOrder.objects.count()
    with pytest.raises(Conflict):
        route.order(number="TO-ERP-1")
    assert TransferOrder.objects.count() == before
