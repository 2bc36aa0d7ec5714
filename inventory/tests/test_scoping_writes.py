"""Inventory API: requests naming another site's location, lot or serial are refused
and write nothing; exports, reports and traces show the user's sites only.

Each refusal has its control: the same request naming site A's objects goes
through, so the refusal is the scoping and not a malformed body.
"""

from __future__ import annotations

import pytest

from inventory.models import StockMove
from tests.api_scoping import accepted, client_of, refused
from tests.scoping import covers
from tests.scoping_world import TwoSites, two_sites

pytestmark = pytest.mark.django_db

INV = "/api/v1/inventory"


@pytest.fixture
def w() -> TwoSites:
    return two_sites()


@pytest.fixture
def api(w):
    return client_of(w)


def _move(w, **body):
    return {"item": w.a.plant.screws.sku, "quantity": "1", **body}


@covers("inventory-move-list POST")
@pytest.mark.parametrize("kind", ["receive", "issue", "adjust", "scrap"])
def test_a_move_at_another_sites_location_is_refused(api, w, kind):
    refused(
        api, "POST", f"{INV}/moves/", _move(w, kind=kind, location=w.b.stores.code, reason="count"), field="location"
    )
    accepted(api, "POST", f"{INV}/moves/", _move(w, kind=kind, location=w.a.stores.code, reason="count"))


@covers("inventory-move-list POST")
@pytest.mark.parametrize("end", ["source", "destination"])
def test_a_transfer_from_or_to_another_site_is_refused(api, w, end):
    body = _move(w, kind="transfer", source=w.a.stores.code, destination=w.a.plant.cut.code)
    refused(api, "POST", f"{INV}/moves/", {**body, end: w.b.stores.code}, field=end)
    accepted(api, "POST", f"{INV}/moves/", body)


@covers("inventory-move-list POST")
def test_a_move_of_another_sites_lot_or_serial_is_refused(api, w):
    a, b = w.a, w.b
    transfer = {"kind": "transfer", "quantity": "1", "source": a.stores.code, "destination": a.plant.cut.code}
    refused(api, "POST", f"{INV}/moves/", {**transfer, "item": b.lot.item.sku, "lot": b.lot.code}, field="lot")
    refused(
        api, "POST", f"{INV}/moves/", {**transfer, "item": b.serial.item.sku, "serials": [b.serial.serial]}, status=409
    )
    accepted(api, "POST", f"{INV}/moves/", {**transfer, "item": a.lot.item.sku, "lot": a.lot.code})
    accepted(api, "POST", f"{INV}/moves/", {**transfer, "item": a.serial.item.sku, "serials": [a.serial.serial]})
    # Receiving B's serial number again at A is a duplicate, not a second unit.
    refused(
        api,
        "POST",
        f"{INV}/moves/",
        {
            "kind": "receive",
            "item": b.serial.item.sku,
            "quantity": "1",
            "location": a.stores.code,
            "serials": [b.serial.serial],
        },
        status=409,
    )


@covers("inventory-level-import-csv POST")
def test_opening_stock_at_another_sites_location_imports_nothing(api, w):
    def csv(location):
        return {"csv": f"sku,location,quantity\n{w.a.plant.screws.sku},{location},5\n"}

    response = refused(api, "POST", f"{INV}/levels/import/", csv(w.b.stores.code), status=400, problem=False)
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("location", "not_found")]
    accepted(api, "POST", f"{INV}/levels/import/", csv(w.a.stores.code))


def _document(w, site, location, **line):
    return {
        "site": site.code,
        "reference": "DOC-1",
        "partner": "Acme",
        "lines": [{"item": w.a.plant.screws.sku, "quantity": "1", "location": location.code, **line}],
    }


@covers("inventory-receipt-list POST", "inventory-shipment-list POST")
@pytest.mark.parametrize("kind", ["receipts", "shipments"])
def test_a_document_for_another_site_or_its_location_is_refused(api, w, kind):
    url = f"{INV}/{kind}/"
    refused(api, "POST", url, _document(w, w.b.site, w.b.stores), field="site")
    refused(api, "POST", url, _document(w, w.a.site, w.b.stores), field="lines")
    accepted(api, "POST", url, _document(w, w.a.site, w.a.stores))


@covers("inventory-shipment-list POST")
def test_a_shipment_of_another_sites_lot_is_refused(api, w):
    body = _document(w, w.a.site, w.a.stores, item=w.b.lot.item.sku, lot=w.b.lot.code)
    refused(api, "POST", f"{INV}/shipments/", body, field="lines[0].lot")
    accepted(
        api, "POST", f"{INV}/shipments/", _document(w, w.a.site, w.a.stores, item=w.a.lot.item.sku, lot=w.a.lot.code)
    )


@covers("inventory-reservation-list POST")
def test_a_reservation_at_another_site_its_location_or_lot_is_refused(api, w):
    a, b = w.a, w.b
    body = {"item": a.lot.item.sku, "quantity": "1", "site": a.site.code, "reference": "WO-R"}
    refused(api, "POST", f"{INV}/reservations/", {**body, "site": b.site.code}, field="site")
    refused(api, "POST", f"{INV}/reservations/", {**body, "location": b.stores.code}, field="location")
    refused(api, "POST", f"{INV}/reservations/", {**body, "item": b.lot.item.sku, "lot": b.lot.code}, field="lot")
    accepted(api, "POST", f"{INV}/reservations/", {**body, "location": a.stores.code, "lot": a.lot.code})


@covers("inventory-reservation-release POST")
def test_releasing_another_sites_reservation_is_not_found(api, w):
    refused(api, "POST", f"{INV}/reservations/release/", {"reference": w.b.reservation.reference}, status=404)
    assert accepted(api, "POST", f"{INV}/reservations/release/", {"reference": w.a.reservation.reference}).json() == {
        "released": 1
    }


@covers("inventory-level-export GET", "inventory-move-export GET")
@pytest.mark.parametrize("what", ["levels", "moves"])
def test_exports_hold_the_users_sites_only(api, w, what):
    response = api.get(f"{INV}/{what}/export/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert w.a.stores.code in body
    assert "BRAVO" not in body  # every code of site B (its SKUs too: B's items have no stock or moves at A)


@covers("inventory-analytics GET")
def test_report_api_for_another_site_is_not_found(api, w):
    refused(api, "GET", f"{INV}/analytics/stock-value/", {"site": w.b.site.code}, status=404)
    body = accepted(api, "GET", f"{INV}/analytics/stock-value/", {"site": w.a.site.code}).json()
    assert "BRAVO" not in str(body["rows"]) and body["site"] == w.a.site.code


@covers("inventory-trace GET")
def test_trace_of_another_sites_lot_or_serial_is_not_found(api, w):
    a, b = w.a, w.b
    refused(api, "GET", f"{INV}/trace/", {"lot": f"{b.lot.item.sku}/{b.lot.code}"}, status=404)
    refused(api, "GET", f"{INV}/trace/", {"serial": f"{b.serial.item.sku}/{b.serial.serial}"}, status=404)
    accepted(api, "GET", f"{INV}/trace/", {"lot": f"{a.lot.item.sku}/{a.lot.code}"})
    accepted(api, "GET", f"{INV}/trace/", {"serial": f"{a.serial.item.sku}/{a.serial.serial}"})
    assert StockMove.objects.exists()
