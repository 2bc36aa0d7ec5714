"""A serial that a closed transfer order recorded missing turns up: booked back into stock at
either site (one move from the source site's adjustment location, the unit in stock, the
discrepancy and the line say found, audited); anything not missing is refused and nothing
changes; the API action and the in-transit page keep to the user's sites."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from inventory import services
from inventory.models import SerialUnit, StockMove, TransferDiscrepancy, TransferOrder
from inventory.selectors import ledger_differences
from inventory.tests.test_transfers_serials import Route
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tests.phone_tables import unlabelled_cells
from tests.scoping import covers, nothing_written
from tracker.models import Alert, AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/transfer-orders/"


@pytest.fixture
def route(site_a, site_b) -> Route:
    return Route(site_a, site_b)


def closed_with_missing(route: Route, serials=("P1", "P2", "P3"), arrived=("P1",)) -> TransferOrder:
    """An order of ``serials`` dispatched from A, ``arrived`` received at B's dock, then closed."""
    order = route.order(pumps=len(serials))
    line = order.lines.get()
    services.transfer_order_dispatch(order=order, serials={line.pk: list(serials)})
    if arrived:
        services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": list(arrived)}])
    services.transfer_order_close(order=order, reason="not on the truck")
    order.refresh_from_db()
    return order


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_missing_serial_found_at_the_destination_is_booked_back_from_the_adjustment_location(route):
    order = closed_with_missing(route)
    line = order.lines.get()
    clerk = user_with_role("warehouse clerk", route.b)
    assert route.level(route.loss) == 0  # virtual: no level; the ledger says where it went
    moves = services.transfer_order_serial_found(order=order, serial="P2", location=route.dock, actor=clerk)

    (move,) = moves
    p2 = route.unit("P2")
    assert (move.source, move.destination, move.serial, move.quantity) == (route.loss, route.dock, p2, D(1))
    assert (move.kind, move.reference, move.reference_type) == (StockMove.Kind.ADJUST, order.number, "transfer")
    shortfall = TransferDiscrepancy.objects.get(line=line)
    assert f"discrepancy {shortfall.pk}" in move.note and move.actor == clerk
    assert (p2.status, p2.location) == ("in_stock", route.dock)
    assert route.level(route.dock) == 2  # P1 received, P2 found
    line.refresh_from_db()
    assert [(e["serial"], e["state"]) for e in line.serials] == [("P1", "received"), ("P2", "found"), ("P3", "missing")]
    assert (line.lost, line.received) == (D(2), D(1))  # what the order lost, as closed
    assert shortfall.serials == ["P2", "P3"] and shortfall.quantity == D(2)
    (found,) = shortfall.found
    assert (found["serial"], found["location"], found["found_by"], found["move"]) == (
        "P2",
        "B-DOCK",
        clerk.username,
        move.pk,
    )
    assert found["found_at"]
    audit = AuditEvent.objects.get(action="serial.found")
    assert audit.object_id == str(p2.pk) and audit.site_id == route.b.pk and audit.actor == clerk
    assert audit.changes["transfer"] == order.number and audit.changes["status"] == ["missing", "in_stock"]
    assert audit.changes["discrepancy"] == shortfall.pk

    # The other one turns up back at the source's stores, booked by the source site.
    services.transfer_order_serial_found(
        order=order, serial="P3", location=route.stores, actor=user_with_role("warehouse clerk", route.a)
    )
    assert (route.unit("P3").status, route.unit("P3").location) == ("in_stock", route.stores)
    shortfall.refresh_from_db()
    assert [f["serial"] for f in shortfall.found] == ["P2", "P3"]
    assert ledger_differences() == []
    call_command("verify_ledger")


def test_a_found_serial_is_in_stock_like_any_other(route):
    order = closed_with_missing(route)
    services.transfer_order_serial_found(order=order, serial="P2", location=route.dock)
    other = LocationFactory(site=route.b, kind="bin", code="B-BIN")
    services.stock_transfer(item=route.pump, quantity=D(1), source=route.dock, destination=other, serials=["P2"])
    assert route.unit("P2").location == other
    call_command("verify_ledger")


def test_booking_clears_the_alert_a_tag_read_raised(route):
    order = closed_with_missing(route)
    p2 = route.unit("P2")
    alert = services.transfer_order_serial_sighted(unit=p2, location=route.dock)
    assert alert is not None and alert.site_id == route.b.pk and alert.kind == services.SIGHTED_ALERT
    assert order.number in alert.message and "B-DOCK" in alert.message
    assert services.transfer_order_serial_sighted(unit=route.unit("P1"), location=route.dock) is None  # in stock
    services.transfer_order_serial_found(order=order, serial="P2", location=route.dock)
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert not Alert.objects.filter(kind=services.SIGHTED_ALERT, cleared_at__isnull=True).exists()


def test_what_is_not_missing_is_refused_and_nothing_changes(route):
    order = closed_with_missing(route)
    services.transfer_order_serial_found(order=order, serial="P2", location=route.dock)
    travelling = route.order(pumps=1)
    services.transfer_order_dispatch(order=travelling, serials={travelling.lines.get().pk: ["P4"]})
    for target, serial, error, text in (
        (order, "P1", services.errors.SerialNotAvailable, "not missing (received)"),
        (order, "P2", services.errors.SerialNotAvailable, "not missing (already found)"),
        (travelling, "P4", services.errors.SerialNotAvailable, "not missing (in transit)"),
        (order, "P5", services.errors.UnknownObject, "did not travel on"),
        (order, "NOPE", services.errors.UnknownObject, "did not travel on"),
    ):
        with nothing_written(), pytest.raises(error) as caught:
            services.transfer_order_serial_found(order=target, serial=serial, location=route.dock)
        assert text in caught.value.detail, (serial, caught.value.detail)
    assert caught.value.status == 404
    third = LocationFactory(site=SiteFactory(code="plant-c"), kind="dock", code="C-DOCK")
    for where, text in ((route.loss, "virtual"), (third, "the sites of")):
        with nothing_written(), pytest.raises(services.errors.InvalidLocation) as refused:
            services.transfer_order_serial_found(order=order, serial="P3", location=where)
        assert text in refused.value.detail and refused.value.status == 400
    assert route.unit("P3").status == "missing"


def test_a_unit_out_of_step_with_its_line_is_refused(route):
    """The line says missing but the unit is not (a hand edit): the unit's own state wins."""
    order = closed_with_missing(route)
    SerialUnit.objects.filter(item=route.pump, serial="P3").update(status=SerialUnit.Status.SCRAPPED)
    with nothing_written(), pytest.raises(services.errors.SerialNotAvailable):
        services.transfer_order_serial_found(order=order, serial="P3", location=route.dock)


# --------------------------------------------------------------------------- API


def test_found_through_the_api_honours_the_idempotency_key(route):
    order = closed_with_missing(route)
    clerk = user_with_role("warehouse clerk", route.b)
    receiver = _client(clerk)
    url = f"{URL}{order.number}/found/"
    body = {"serial": "P2", "location": "B-DOCK"}
    first = receiver.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="found-1")
    assert first.status_code == 200, first.content
    moves = StockMove.objects.count()
    again = receiver.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="found-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert StockMove.objects.count() == moves
    (line,) = receiver.get(f"{URL}{order.number}/").json()["lines"]
    assert [e["state"] for e in line["serials"]] == ["received", "found", "missing"]
    (shortfall,) = line["discrepancies"]
    (found,) = shortfall["found"]
    assert (found["serial"], found["location"], found["found_by"]) == ("P2", "B-DOCK", clerk.username)
    assert found["move"] == StockMove.objects.get(serial__serial="P2", destination=route.dock).pk
    # The same key for another body is refused; without a key a second booking is a 409.
    with nothing_written():
        reused = receiver.post(url, {**body, "serial": "P3"}, format="json", HTTP_IDEMPOTENCY_KEY="found-1")
    assert reused.status_code == 422
    with nothing_written():
        conflict = receiver.post(url, body, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "serial_not_available", conflict.content
    assert "already found" in conflict.json()["detail"]
    call_command("verify_ledger")


@covers("inventory-transfer-order-found POST")
def test_found_through_the_api_refuses_bad_input_and_other_sites(route):
    order = closed_with_missing(route)
    url = f"{URL}{order.number}/found/"
    receiver = _client(user_with_role("warehouse clerk", route.b))
    shipper = _client(user_with_role("warehouse clerk", route.a))
    outsider = _client(user_with_role("plant manager", SiteFactory(code="plant-c")))
    viewer = _client(user_with_role("viewer", route.b))
    cases = [
        (outsider, {"serial": "P2", "location": "B-DOCK"}, 404, "not_found"),  # neither site's: no such order
        (receiver, {"serial": "P5", "location": "B-DOCK"}, 404, "not_found"),  # not on the order
        (receiver, {"serial": "P1", "location": "B-DOCK"}, 409, "serial_not_available"),  # received
        (receiver, {"serial": "P2", "location": "A-STORES"}, 400, None),  # a location of a site not the user's
        (shipper, {"serial": "P2", "location": "B-DOCK"}, 400, None),
        (receiver, {"serial": "P2"}, 400, None),  # no location
        (receiver, {"location": "B-DOCK"}, 400, None),  # no serial
        (receiver, {"serial": "P2", "location": "B-DOCK", "item": "BOLT"}, 404, "not_found"),  # not a bolt's
    ]
    for client, body, status, code in cases:
        with nothing_written():
            refused = client.post(url, body, format="json")
        assert refused.status_code == status, (body, refused.content)
        assert refused["Content-Type"].startswith("application/problem+json")
        if code:
            assert refused.json()["code"] == code, refused.content
    with nothing_written():
        assert viewer.post(url, {"serial": "P2", "location": "B-DOCK"}, format="json").status_code == 403
    # The source site books it back at its own stores.
    done = shipper.post(url, {"serial": "P2", "location": "A-STORES", "item": "PUMP"}, format="json")
    assert done.status_code == 200, done.content
    assert route.unit("P2").location == route.stores
    call_command("verify_ledger")


def test_transfer_orders_list_query_count_does_not_grow_with_found_serials(site_a, site_b):
    route = Route(site_a, site_b)
    client = _client(user_with_role("plant manager", site_a, site_b))

    def count() -> int:
        client.get(URL)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    first = closed_with_missing(route, serials=("P1", "P2"), arrived=())
    services.transfer_order_serial_found(order=first, serial="P1", location=route.dock)
    one = count()
    second = closed_with_missing(route, serials=("P3", "P4", "P5"), arrived=("P3",))
    for serial in ("P4", "P5"):
        services.transfer_order_serial_found(order=second, serial=serial, location=route.stores)
    services.transfer_order_serial_found(order=first, serial="P2", location=route.dock)
    assert count() == one


# --------------------------------------------------------------------------- the page


def _page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@covers("inventory:in_transit_found POST")
def test_the_in_transit_page_lists_missing_serials_and_books_one_found(route):
    order = closed_with_missing(route)
    clerk = _page_client(user_with_role("warehouse clerk", route.b))
    body = clerk.get("/inventory/in-transit/").content.decode()
    assert "Missing in transit" in body and "Book found" in body
    missing = body[body.index('id="missing"') :]
    assert (
        missing.count(f'<td data-label="Transfer">{order.number}</td>') == 2 and ">P2<" in missing and ">P3<" in missing
    )
    assert unlabelled_cells(body) == []  # a phone shows each cell with its column's name
    viewer = _page_client(user_with_role("viewer", route.b))
    body = viewer.get("/inventory/in-transit/").content.decode()
    assert ">P2<" in body and "Book found" not in body
    with nothing_written():
        assert viewer.post("/inventory/in-transit/found/", {}).status_code == 403

    form = {"order": order.number, "item": "PUMP", "serial": "P2", "location": "B-DOCK"}
    for bad, status, text in (
        ({"location": "A-STORES"}, 400, "No location"),  # the other site's: not at this site
        ({"location": "NOWHERE"}, 400, "No location"),
        ({"serial": "P1"}, 409, "not missing (received)"),
        ({"serial": "P7"}, 404, "did not travel"),
    ):
        with nothing_written():
            refused = clerk.post("/inventory/in-transit/found/", {**form, **bad})
        assert refused.status_code == status and text in refused.content.decode(), (bad, refused.status_code)
    outsider = _page_client(user_with_role("warehouse clerk", SiteFactory(code="plant-c")))
    with nothing_written():
        assert outsider.post("/inventory/in-transit/found/", form).status_code == 404
    assert order.number not in outsider.get("/inventory/in-transit/").content.decode()

    done = clerk.post("/inventory/in-transit/found/", form, follow=True)
    assert done.status_code == 200 and "Serial P2 of PUMP booked found at B-DOCK." in done.content.decode()
    assert (route.unit("P2").status, route.unit("P2").location) == ("in_stock", route.dock)
    body = done.content.decode()
    assert ">P3<" in body and ">P2<" not in body
    # The source site sees the same missing serial from its side.
    source = _page_client(user_with_role("warehouse clerk", route.a)).get("/inventory/in-transit/").content.decode()
    assert ">P3<" in source
    call_command("verify_ledger")


def test_the_in_transit_page_query_count_does_not_grow_with_missing_serials(site_a, site_b):
    route = Route(site_a, site_b)
    client = _page_client(user_with_role("warehouse clerk", site_b))

    def count() -> int:
        client.get("/inventory/in-transit/")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/inventory/in-transit/").status_code == 200
        return len(ctx.captured_queries)

    closed_with_missing(route, serials=("P1",), arrived=())
    one = count()
    closed_with_missing(route, serials=("P2", "P3", "P4"), arrived=())
    closed_with_missing(route, serials=("P5",), arrived=())
    assert count() == one


def test_sighting_names_no_order_when_the_unit_is_missing_without_one(route):
    """A unit marked missing some other way (no closed order lists it): the alert still says where."""
    unit = route.unit("P5")
    SerialUnit.objects.filter(pk=unit.pk).update(status=SerialUnit.Status.MISSING)
    unit.refresh_from_db()
    alert = services.transfer_order_serial_sighted(unit=unit, location=route.dock)
    assert alert is not None and alert.data["transfer"] is None and "B-DOCK" in alert.message
    services.transfer_order_serial_sighted(unit=unit, location=route.dock)  # read again: the same alert
    assert Alert.objects.get(kind=services.SIGHTED_ALERT).occurrences == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_booking_one_serial_found_at_once_book_it_once():
    """Both sides find the same unit at the same moment: one move, the other a 409."""
    import threading

    route = Route(SiteFactory(code="race-a"), SiteFactory(code="race-b"))
    order = closed_with_missing(route, serials=("P1",), arrived=())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def book(where) -> None:
        try:
            barrier.wait()
            services.transfer_order_serial_found(order=order, serial="P1", location=where)
            outcomes.append("booked")
        except services.errors.SerialNotAvailable:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(where,)) for where in (route.dock, route.stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "refused"]
    assert StockMove.objects.filter(serial__serial="P1", source=route.loss).count() == 1
    assert len(TransferDiscrepancy.objects.get(line__order=order).found) == 1
    assert ledger_differences() == []
