"""``transfer_order_serial_read``: a tag read of a travelling unit at a dock of its destination
receives it on its order, once; at the destination away from its docks or at a third site it
raises one in-transit sighting alert (bumped by further reads, cleared by a person's receipt
or the close); at the source site, or for a unit not travelling, nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.management import call_command

from inventory import services
from inventory.models import StockMove, TransferOrder
from inventory.selectors import ledger_differences
from inventory.tests.test_transfers_serials import Route
from tests.factories.tracker import LocationFactory, SiteFactory
from tracker.models import Alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def route(site_a, site_b) -> Route:
    return Route(site_a, site_b)


def dispatched(route: Route, serials=("P1", "P2")) -> TransferOrder:
    order = route.order(pumps=len(serials))
    services.transfer_order_dispatch(order=order, serials={order.lines.get().pk: list(serials)})
    return order


def test_a_read_at_the_destination_dock_receives_the_unit_once(route):
    order = dispatched(route)
    read = services.transfer_order_serial_read(unit=route.unit("P1"), location=route.dock)
    (move,) = read.moves
    assert read.alert is None
    assert (move.source, move.destination, move.serial.serial, move.reference) == (
        route.transit,
        route.dock,
        "P1",
        order.number,
    )
    order.refresh_from_db()
    line = order.lines.get()
    assert order.status == TransferOrder.Status.PARTIAL and line.received == D(1)
    assert [(e["serial"], e["state"]) for e in line.serials] == [("P1", "received"), ("P2", "in_transit")]
    moves = StockMove.objects.count()
    # Read again, even with the caller's stale copy of the unit: nothing more.
    stale = route.unit("P2")
    services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": ["P2"]}])
    assert services.transfer_order_serial_read(unit=stale, location=route.dock) == services.SerialRead()
    assert services.transfer_order_serial_read(unit=route.unit("P1"), location=route.dock) == services.SerialRead()
    assert StockMove.objects.count() == moves + 1  # only the person's receipt of P2
    order.refresh_from_db()
    assert order.status == TransferOrder.Status.RECEIVED
    assert ledger_differences() == []
    call_command("verify_ledger")


def test_a_read_away_from_the_destination_docks_raises_one_alert_and_a_receipt_clears_it(route):
    order = dispatched(route)
    racks = LocationFactory(site=route.b, kind="zone", code="B-RACKS")
    moves = StockMove.objects.count()
    first = services.transfer_order_serial_read(unit=route.unit("P1"), location=racks, reference="upload:7")
    again = services.transfer_order_serial_read(unit=route.unit("P1"), location=racks)
    assert first.moves == [] and again.moves == [] and StockMove.objects.count() == moves
    alert = Alert.objects.get(kind=services.IN_TRANSIT_SIGHTED_ALERT)
    assert again.alert is not None and again.alert.pk == alert.pk == first.alert.pk
    assert (alert.site_id, alert.subject, alert.occurrences) == (route.b.pk, "serial:PUMP/P1", 2)
    assert order.number in alert.message and "B-RACKS" in alert.message
    assert route.unit("P1").status == "in_transit"
    # A third site reads it too (misrouted): its own alert there.
    elsewhere = LocationFactory(site=SiteFactory(code="plant-c"), kind="dock", code="C-DOCK")
    assert services.transfer_order_serial_read(unit=route.unit("P1"), location=elsewhere).alert is not None
    assert Alert.objects.filter(kind=services.IN_TRANSIT_SIGHTED_ALERT, cleared_at__isnull=True).count() == 2

    # A person receives it (at the racks): both alerts clear.
    services.transfer_order_receive(order=order, lines=[{"line": order.lines.get().pk, "serials": ["P1"]}])
    assert not Alert.objects.filter(kind=services.IN_TRANSIT_SIGHTED_ALERT, cleared_at__isnull=True).exists()
    assert ledger_differences() == []


def test_a_read_at_the_source_site_or_of_a_unit_not_travelling_does_nothing(route):
    dispatched(route)
    source_dock = LocationFactory(site=route.a, kind="dock", code="A-DOCK")
    for unit, where in (
        (route.unit("P1"), source_dock),  # loaded onto the truck after dispatch was booked
        (route.unit("P1"), route.stores),
        (route.unit("P3"), route.dock),  # in stock at A, on no order
    ):
        assert services.transfer_order_serial_read(unit=unit, location=where) == services.SerialRead()
    assert not Alert.objects.exists()
    assert route.unit("P1").status == "in_transit"
