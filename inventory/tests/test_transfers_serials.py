"""Transfer orders of serial-tracked items: dispatch names the units, they travel with the
order, a receipt names those that arrived (in part), closing records the rest as missing
(audited); bad serials are refused naming what was wrong; the ledger holds throughout."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from inventory import services
from inventory.models import SerialUnit, StockLevel, StockMove, TransferDiscrepancy, TransferOrder
from inventory.selectors import ledger_differences
from tests.factories.inventory import ItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tests.scoping import nothing_written
from tracker.models import AuditEvent, LocationKind
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/transfer-orders/"


class Route:
    """Five serial units and some bolts at site A's stores; site B's dock to receive them."""

    def __init__(self, site_a, site_b) -> None:
        self.a, self.b = site_a, site_b
        self.stores = LocationFactory(site=site_a, kind="zone", code="A-STORES")
        self.other = LocationFactory(site=site_a, kind="bin", code="A-OTHER")
        self.dock = LocationFactory(site=site_b, kind="dock", code="B-DOCK")
        self.pump = SerialItemFactory(sku="PUMP")
        self.bolt = ItemFactory(sku="BOLT")
        receive(self.pump, self.stores, 5, serials=["P1", "P2", "P3", "P4", "P5"])
        receive(self.pump, self.other, 1, serials=["P9"])
        receive(self.bolt, self.stores, 20)
        self.transit = virtual_location(site=site_a, kind=LocationKind.TRANSIT)
        self.loss = virtual_location(site=site_a, kind=LocationKind.ADJUSTMENT)

    def order(self, pumps: int = 3, bolts: int = 0) -> TransferOrder:
        lines = [{"item": self.pump, "quantity": D(pumps)}]
        if bolts:
            lines.append({"item": self.bolt, "quantity": D(bolts)})
        return services.transfer_order_create(source=self.stores, destination=self.dock, lines=lines)

    def unit(self, serial: str) -> SerialUnit:
        return SerialUnit.objects.get(item=self.pump, serial=serial)

    def level(self, location) -> D:
        row = StockLevel.objects.filter(item=self.pump, location=location).first()
        return row.on_hand if row else D(0)


@pytest.fixture
def route(site_a, site_b) -> Route:
    return Route(site_a, site_b)


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_serials_travel_arrive_in_part_and_the_rest_is_recorded_missing(route):
    order = route.order(pumps=3, bolts=4)
    pump_line = order.lines.get(item=route.pump)
    moves = services.transfer_order_dispatch(order=order, serials={pump_line.pk: ["P1", "P2", "P3"]})
    assert sorted(m.serial.serial for m in moves if m.serial) == ["P1", "P2", "P3"]
    for serial in ("P1", "P2", "P3"):
        unit = route.unit(serial)
        assert (unit.status, unit.location) == ("in_transit", route.transit)
    assert route.level(route.stores) == 2 and route.level(route.transit) == 3
    pump_line.refresh_from_db()
    assert pump_line.serials == [{"serial": s, "state": "in_transit"} for s in ("P1", "P2", "P3")]

    # Two pumps arrive (a quantity may be given with them), and the bolts.
    services.transfer_order_receive(
        order=order,
        lines=[{"line": pump_line.pk, "serials": ["P3", "P1"], "quantity": D(2)}, {"item": route.bolt, "quantity": 4}],
    )
    order.refresh_from_db()
    assert order.status == "partial"
    assert route.unit("P1").status == "in_stock" and route.unit("P1").location == route.dock
    assert route.unit("P2").status == "in_transit"
    assert route.level(route.dock) == 2 and route.level(route.transit) == 1
    pump_line.refresh_from_db()
    assert [e["state"] for e in pump_line.serials] == ["received", "in_transit", "received"]
    assert pump_line.received == 2

    services.transfer_order_close(order=order, reason="P2 fell off the truck")
    order.refresh_from_db()
    assert order.status == "closed"
    p2 = route.unit("P2")
    assert (p2.status, p2.location) == ("missing", route.loss)
    assert route.level(route.transit) == 0
    shortfall = TransferDiscrepancy.objects.get(line=pump_line)
    assert (shortfall.kind, shortfall.quantity, shortfall.serials) == ("shortfall", D(1), ["P2"])
    audit = AuditEvent.objects.get(action="serial.missing_in_transit")
    assert audit.object_id == str(p2.pk) and audit.site_id == route.a.pk
    assert audit.changes["transfer"] == order.number and audit.changes["reason"] == "P2 fell off the truck"
    write_off = StockMove.objects.get(reference=order.number, serial=p2, destination=route.loss)
    assert write_off.source == route.transit
    assert ledger_differences() == []
    call_command("verify_ledger")


def test_a_receipt_of_every_serial_completes_the_order(route):
    order = route.order(pumps=2)
    line = order.lines.get()
    services.transfer_order_dispatch(order=order, serials={line.pk: ["P4", "P5"]})
    services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": ["P4"]}])
    services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": ["P5"]}])
    order.refresh_from_db()
    assert order.status == "received"
    assert {u.location for u in SerialUnit.objects.filter(serial__in=["P4", "P5"])} == {route.dock}
    call_command("verify_ledger")


@pytest.mark.parametrize(
    ("serials", "code"),
    [
        (None, "serial_required"),
        (["P1", "P2"], "serial_count_mismatch"),
        (["P1", "P1", "P2"], "serial_duplicate"),
        (["P1", "P2", "NOPE"], "not_found"),
        (["P1", "P2", "P9"], "serial_not_available"),  # at another bin
        (["P1", "P2", " "], "serial_required"),
    ],
)
def test_a_bad_dispatch_names_what_was_wrong_and_moves_nothing(route, serials, code):
    order = route.order(pumps=3)
    line = order.lines.get()
    with nothing_written(), pytest.raises(services.errors.LinesInvalid) as caught:
        services.transfer_order_dispatch(order=order, serials={line.pk: serials} if serials else None)
    assert [(index, exc.code) for index, exc in caught.value.problems] == [(0, code)]


def test_a_serial_already_in_transit_or_named_for_a_plain_line_is_refused(route):
    first = route.order(pumps=1)
    services.transfer_order_dispatch(order=first, serials={first.lines.get().pk: ["P1"]})
    second = route.order(pumps=1, bolts=1)
    pump_line, bolt_line = second.lines.get(item=route.pump), second.lines.get(item=route.bolt)
    with nothing_written(), pytest.raises(services.errors.LinesInvalid) as caught:
        services.transfer_order_dispatch(order=second, serials={pump_line.pk: ["P1"], bolt_line.pk: ["X"]})
    problems = {exc.code: exc.detail for _, exc in caught.value.problems}
    assert problems["serial_not_available"] == "Serial P1 is already in transit."
    assert "serial_not_allowed" in problems
    with nothing_written(), pytest.raises(services.errors.UnknownObject):
        services.transfer_order_dispatch(order=second, serials={first.lines.get().pk: ["P2"]})


def test_a_bad_receipt_names_what_was_wrong_and_receives_nothing(route):
    order = route.order(pumps=2)
    line = order.lines.get()
    services.transfer_order_dispatch(order=order, serials={line.pk: ["P1", "P2"]})
    services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": ["P1"]}])
    for wanted, code in (
        ({"line": line.pk, "quantity": D(1)}, "serial_required"),
        ({"line": line.pk, "serials": ["P1"]}, "serial_not_available"),  # already received
        ({"line": line.pk, "serials": ["P3"]}, "serial_not_available"),  # never dispatched on it
        ({"line": line.pk, "serials": ["P2", "P2"]}, "serial_duplicate"),
        ({"line": line.pk, "serials": ["P2"], "quantity": D(2)}, "serial_count_mismatch"),
    ):
        with nothing_written(), pytest.raises(services.errors.LinesInvalid) as caught:
            services.transfer_order_receive(order=order, lines=[wanted])
        assert [exc.code for _, exc in caught.value.problems] == [code], wanted
    # The same serial named on two entries of one receipt.
    with nothing_written(), pytest.raises(services.errors.LinesInvalid):
        services.transfer_order_receive(
            order=order, lines=[{"line": line.pk, "serials": ["P2"]}, {"line": line.pk, "serials": ["P2"]}]
        )


def test_serials_through_the_api_and_the_in_transit_page(route):
    from django.test import Client

    shipper = _client(user_with_role("warehouse clerk", route.a))
    receiver = _client(user_with_role("warehouse clerk", route.b))
    created = shipper.post(
        URL,
        {"source": route.stores.code, "destination": route.dock.code, "lines": [{"item": "PUMP", "quantity": "3"}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    detail = f"{URL}{created.json()['number']}/"
    with nothing_written():
        refused = shipper.post(f"{detail}dispatch/", format="json")
        assert refused.status_code == 400 and refused.json()["code"] == "serial_required", refused.content
        refused = shipper.post(
            f"{detail}dispatch/", {"lines": [{"item": "PUMP", "serials": ["P1", "P2"]}]}, format="json"
        )
        assert refused.status_code == 400 and "2 serials for a quantity of 3" in refused.json()["detail"]
        refused = shipper.post(f"{detail}dispatch/", {"lines": [{"item": "PUMP", "serials": []}]}, format="json")
        assert refused.status_code == 400
    dispatched = shipper.post(
        f"{detail}dispatch/", {"lines": [{"item": "PUMP", "serials": ["P1", "P2", "P3"]}]}, format="json"
    )
    assert dispatched.status_code == 200, dispatched.content
    (line,) = receiver.get(detail).json()["lines"]
    assert line["serials"] == [{"serial": s, "state": "in_transit"} for s in ("P1", "P2", "P3")]
    (row,) = receiver.get(f"{URL}in-transit/?site={route.b.code}").json()
    assert (row["quantity"], row["serials"]) == ("3.0000", ["P1", "P2", "P3"])
    page = Client()
    page.force_login(user_with_role("warehouse clerk", route.b))
    assert "Serials: P1, P2, P3" in page.get("/inventory/in-transit/").content.decode()

    with nothing_written():
        refused = receiver.post(f"{detail}receive/", {"lines": [{"item": "PUMP", "serials": ["P5"]}]}, format="json")
        assert refused.status_code in (400, 409) and "P5" in refused.json()["detail"], refused.content
    received = receiver.post(f"{detail}receive/", {"lines": [{"item": "PUMP", "serials": ["P2"]}]}, format="json")
    assert received.status_code == 200, received.content
    (row,) = receiver.get(f"{URL}in-transit/?site={route.b.code}").json()
    assert (row["quantity"], row["serials"]) == ("2.0000", ["P1", "P3"])
    closed = receiver.post(f"{detail}close/", {"reason": "not on the truck"}, format="json")
    assert closed.status_code == 200, closed.content
    (line,) = receiver.get(detail).json()["lines"]
    assert [e["state"] for e in line["serials"]] == ["missing", "received", "missing"]
    assert [(d["kind"], d["quantity"], d["serials"]) for d in line["discrepancies"]] == [
        ("shortfall", "2.0000", ["P1", "P3"])
    ]
    call_command("verify_ledger")
