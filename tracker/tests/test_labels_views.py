"""Label pages: scoped lookups, PDF/ZPL downloads. Scanning the labels back: test_label_scans.py."""

from __future__ import annotations

import pytest

from tests.factories.inventory import LotFactory, LotItemFactory
from tests.factories.tracker import LocationFactory
from tests.factories.wip import make_plant

GTIN = "09506000134352"
pytestmark = pytest.mark.django_db


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
