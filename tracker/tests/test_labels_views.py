"""Label pages: scoped lookups, PDF/ZPL downloads, and a printed label scanned on the
receive/transfer/station pages fills in the same fields (parsed by inventory.scanning)."""

from __future__ import annotations

import datetime as dt

import pytest
import zxingcpp

from inventory.scanning import parse_scan
from tests.factories.inventory import LotFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory
from tests.factories.wip import make_plant
from tracker.labels.symbols import main_symbol
from tracker.tests.test_labels import raster

GTIN = "09506000134352"
pytestmark = pytest.mark.django_db


def scanned(label) -> str:
    """What a keyboard-wedge scanner types: symbology identifier + data (FNC1 as GS)."""
    result = zxingcpp.read_barcode(raster(main_symbol(label)), text_mode=zxingcpp.TextMode.Plain)
    return result.symbology_identifier + result.text


@pytest.mark.parametrize("symbology", ["", "datamatrix"])
def test_lot_label_scan_fills_the_receive_form(site_a, symbology):
    from inventory.labels_views import lot_label
    from tracker.labels import Symbology

    item = LotItemFactory(sku="STEEL", gtin=GTIN)
    lot = LotFactory(item=item, site=site_a, code="L-42/7", expiry_date=dt.date(2027, 3, 31))
    sym = Symbology.GS1_DATAMATRIX if symbology else Symbology.GS1_128
    fields = parse_scan(scanned(lot_label(lot, symbology=sym, errors=[])))
    assert fields == {"gtin": GTIN, "lot": "L-42/7", "serial": None, "expiry_date": "2027-03-31", "sku": "STEEL"}


def test_serial_label_scan_fills_the_transfer_form(site_a):
    from inventory.labels_views import serial_label
    from tracker.labels import Symbology

    bin1 = LocationFactory(site=site_a, kind="bin", code="A-B1")
    item = SerialItemFactory(sku="PUMP", gtin=GTIN)
    (move,) = receive(item, bin1, 1, serials=["SN-9"])
    fields = parse_scan(scanned(serial_label(move.serial, symbology=Symbology.GS1_128, errors=[])))
    assert (fields["sku"], fields["serial"], fields["lot"]) == ("PUMP", "SN-9", None)


def test_traveler_scan_is_the_work_order_number_the_station_takes(site_a):
    from wip.labels_views import traveler_label
    from wip.models import WorkOrder
    from wip.services import work_order_create

    plant = make_plant(site_a)
    wo = work_order_create(site=site_a, item=plant.product, routing=plant.routing, quantity=2, number="WO-77")
    text = zxingcpp.read_barcode(raster(main_symbol(traveler_label(wo))), text_mode=zxingcpp.TextMode.Plain).text
    assert WorkOrder.objects.get(number=text.strip()) == wo  # the station form looks the order up by this text


def test_pages_pdf_zpl_and_scoping(client, site_a, site_b, make_user):
    clerk = make_user("warehouse clerk", site_a)
    client.force_login(clerk)
    item = LotItemFactory(sku="STEEL", gtin=GTIN)
    LotFactory(item=item, site=site_a, code="LA")
    LotFactory(item=item, site=site_b, code="LB")
    page = client.get("/inventory/labels/lots/?lot=STEEL/LA&lot=STEEL/LB")
    assert page.status_code == 200
    body = page.content.decode()
    assert "(01)09506000134352(10)LA" in body and "No lot &#x27;STEEL/LB&#x27;" in body and "(10)LB" not in body
    pdf = client.get("/inventory/labels/lots/?lot=STEEL/LA&format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    zpl = client.get("/inventory/labels/lots/?lot=STEEL/LA&format=zpl&symbology=datamatrix")
    assert zpl.status_code == 200 and "^BXN" in zpl.content.decode() and "`10109506000134352" in zpl.content.decode()
    other = LocationFactory(site=site_b, kind="bin", code="B-X")
    mine = LocationFactory(site=site_a, kind="bin", code="A-X")
    site_a.gln = "5790000000012"
    site_a.save()
    body = client.get(f"/inventory/labels/locations/?code={mine.code}&code={other.code}").content.decode()
    assert "(414)5790000000012(254)A-X" in body and "No location &#x27;B-X&#x27;" in body


def test_traveler_and_tote_pages(client, site_a, site_b, make_user):
    plant = make_plant(site_a)
    from wip.services import work_order_create

    work_order_create(site=site_a, item=plant.product, routing=plant.routing, quantity=2, number="WO-1")
    user = make_user("supervisor", site_b)
    client.force_login(user)
    assert "No work order" in client.get("/wip/labels/travelers/?number=WO-1").content.decode()
    client.force_login(make_user("supervisor", site_a))
    zpl = client.get("/wip/labels/travelers/?number=WO-1&format=zpl").content.decode()
    assert "^BCN,110,N,N,N^FD>:WO-1^FS" in zpl and "/wip/work-orders/WO-1/" in zpl
    body = client.get("/wip/labels/totes/?code=106141411234567897&code=TOTE-7").content.decode()
    assert "(00)106141411234567897" in body and "TOTE-7" in body
