"""Inventory pages: render, scope to the current site, constant query counts, forms with scans."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from inventory import services
from inventory.models import Lot, StockLevel
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(site_a):
    client = Client()
    client.force_login(user_with_role("warehouse clerk", site_a))
    return client


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/inventory/",
        "/inventory/items/",
        "/inventory/items/PG-SER-0/",
        "/inventory/replenishment/",
        "/inventory/expiring/?days=9999",
        "/",
    ],
)
def test_pages_render_with_constant_query_counts(clerk_client, bins, url):
    def make(start, n):
        for i in range(start, start + n):
            receive(LotItemFactory(sku=f"PG-LOT-{i}", reorder_point=D(100)), bins[1 + i % 2], 2, lot_code=f"PL{i}")
            receive(SerialItemFactory(sku=f"PG-SER-{i}"), bins[1], 1, serials=[f"PS{i}"])
            item = SerialItemFactory(sku="PG-SER-0")
            receive(item, bins[1], 1, serials=[f"PX{i}"])

    make(0, 1)
    Lot.objects.update(expiry_date="2030-01-01")
    one = _count(clerk_client, url)
    make(1, 12)
    Lot.objects.update(expiry_date="2030-01-01")
    assert _count(clerk_client, url) == one


def test_dashboard_shows_reorder_panel(clerk_client, bins):
    item = ItemFactory(sku="LOW-1", reorder_point=D(10), reorder_quantity=D(25))
    receive(item, bins[1], 3)
    body = clerk_client.get("/").content.decode()
    assert "Stock under reorder point" in body and "LOW-1" in body


def test_pages_404_for_another_sites_location_and_lot(clerk_client, bins, bin_b):
    item = LotItemFactory(sku="OTHER")
    receive(item, bin_b, 2, lot_code="B-ONLY")
    assert clerk_client.get("/inventory/?within=B-BIN1").status_code == 404
    assert clerk_client.get("/inventory/trace/?lot=OTHER/B-ONLY").status_code == 404
    body = clerk_client.get("/inventory/items/OTHER/").content.decode()
    assert "B-BIN1" not in body  # the item is global master data; its stock at site B is not shown


def test_receive_form_fills_from_gs1_scan(clerk_client, bins):
    item = LotItemFactory(sku="SCAN-1", gtin="09501101020917")
    scan = "]d201095011010209171729050810ABCD1234"
    r = clerk_client.post("/inventory/receive/", {"scan": scan, "quantity": "4", "location": "A-BIN1"})
    assert r.status_code == 302, r.content.decode()
    level = StockLevel.objects.get(item=item)
    assert (level.lot.code, str(level.lot.expiry_date), level.on_hand) == ("ABCD1234", "2029-05-08", 4)


def test_scan_endpoint_and_bad_scan(clerk_client, bins):
    LotItemFactory(sku="SCAN-2", gtin="4006381333931")
    data = clerk_client.get("/inventory/scan/", {"code": "(01)04006381333931(10)L-7"}).json()
    assert (data["sku"], data["lot"]) == ("SCAN-2", "L-7")
    r = clerk_client.post("/inventory/receive/", {"scan": "nonsense", "quantity": "1", "location": "A-BIN1"})
    assert r.status_code == 200 and "No GS1 data" in r.content.decode()


def test_transfer_form_shows_domain_errors(clerk_client, bins):
    item = ItemFactory(sku="TF-1")
    receive(item, bins[1], 2)
    r = clerk_client.post(
        "/inventory/transfer/", {"item": "TF-1", "quantity": "5", "source": "A-BIN1", "destination": "A-BIN2"}
    )
    assert r.status_code == 200 and "Only 2" in r.content.decode()
    r = clerk_client.post(
        "/inventory/transfer/", {"item": "TF-1", "quantity": "2", "source": "A-BIN1", "destination": "B-BIN1"}
    )
    assert r.status_code == 200 and "No location" in r.content.decode()
    r = clerk_client.post(
        "/inventory/transfer/", {"item": "TF-1", "quantity": "2", "source": "A-BIN1", "destination": "A-BIN2"}
    )
    assert r.status_code == 302 and StockLevel.objects.get(item=item, location=bins[2]).on_hand == 2
    page = clerk_client.get(r.url).content.decode()
    assert f"Transfer booked: 2 {item.unit} TF-1 from A-BIN1 to A-BIN2 (1 move)." in page


def test_count_page_records_and_approves(clerk_client, bins):
    item = ItemFactory(sku="CNT-1")
    receive(item, bins[1], 5)
    r = clerk_client.post("/inventory/count/", {"item": "CNT-1", "location": "A-BIN1", "counted": "3"})
    assert r.status_code == 302
    # The site separates duties (the default): a colleague approves what this clerk counted.
    colleague = Client()
    colleague.force_login(user_with_role("warehouse clerk", bins[1].site))
    page = colleague.get("/inventory/count/").content.decode()
    assert "Approve" in page
    from inventory.models import CycleCount

    cc = CycleCount.objects.get()
    colleague.post(f"/inventory/count/{cc.pk}/approve/")
    assert StockLevel.objects.get(item=item, location=bins[1]).on_hand == 3


def test_trace_page_and_recall(clerk_client, bins):
    comp = LotItemFactory(sku="TP-C")
    receive(comp, bins[1], 5, lot_code="TPC-1", reference="PO-5", supplier="Acme")
    issued = services.stock_issue(item=comp, quantity=D(2), location=bins[1], reference="WO-5")
    services.stock_produce(
        item=SerialItemFactory(sku="TP-F"),
        quantity=D(1),
        location=bins[1],
        serials=["TPF-1"],
        consumed=issued,
        reference="WO-5",
    )
    body = clerk_client.get("/inventory/trace/?lot=TP-C/TPC-1&direction=forward").content.decode()
    assert "TPF-1" in body and "WO-5" in body
    body = clerk_client.get("/inventory/trace/?serial=TP-F/TPF-1").content.decode()
    assert "Acme" in body and "PO-5" in body
    r = clerk_client.post("/inventory/recall/", {"lot": "TP-C/TPC-1", "reason": "bad"})
    assert r.status_code == 200 and "TPF-1" in r.content.decode()
    assert Lot.objects.get(code="TPC-1").status == "recalled"


def test_trace_shows_quantities_by_unit_and_times_in_the_sites_zone(clerk_client, bins, site_a):
    """The trace's rows are shaped for the API (UTC ISO text): the page showed '12.5' and the UTC
    date, which for a late receipt is the day before the plant's."""
    import datetime as dt

    site_a.time_zone = "Europe/Berlin"
    site_a.save()
    glue = LotItemFactory(sku="TP-GLUE", unit="kg")
    late = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 10th in Berlin
    receive(glue, bins[1], "12.5", lot_code="G-1", reference="PO-9", supplier="Glue Co", occurred_at=late)
    body = clerk_client.get("/inventory/trace/?lot=TP-GLUE/G-1").content.decode()
    assert "received 12.500 kg from Glue Co (PO-9) 2026-03-10 00:30 CET" in body


def test_operator_cannot_open_stock_pages(site_a):
    client = Client()
    client.force_login(user_with_role("operator", site_a))
    assert client.get("/inventory/").status_code == 403
    assert client.get("/inventory/receive/").status_code == 403
