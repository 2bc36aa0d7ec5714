"""Traceability through three levels, recall, CSV import/export, replenishment and expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from inventory import csvio, services
from inventory.models import Item, Lot, SerialUnit, StockLevel, StockMove
from inventory.selectors import expiring_lots_internal, replenishment_internal, trace_backward, trace_forward
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import user_with_role
from tracker.models import Alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def assembly(bins):
    """Component lots -> sub-assembly lot -> finished serials -> a shipment."""
    _, bin1, bin2 = bins
    comp_a, comp_b = LotItemFactory(sku="COMP-A"), LotItemFactory(sku="COMP-B")
    sub = LotItemFactory(sku="SUB")
    fg = SerialItemFactory(sku="FG")
    receive(comp_a, bin1, 10, lot_code="CA-1", reference="PO-1", supplier="Acme")
    receive(comp_b, bin1, 10, lot_code="CB-1", reference="PO-2", supplier="Bolt Co")
    issued = services.stock_issue(item=comp_a, quantity=D(4), location=bin1, reference="WO-SUB")
    issued += services.stock_issue(item=comp_b, quantity=D(2), location=bin1, reference="WO-SUB")
    services.stock_produce(
        item=sub, quantity=D(3), location=bin2, lot_code="SUB-1", consumed=issued, reference="WO-SUB"
    )
    sub_lot = Lot.objects.get(code="SUB-1")
    issued_sub = services.stock_issue(item=sub, quantity=D(2), location=bin2, lot=sub_lot, reference="WO-FG")
    services.stock_produce(
        item=fg, quantity=D(2), location=bin2, serials=["FG-1", "FG-2"], consumed=issued_sub, reference="WO-FG"
    )
    services.stock_ship(item=fg, quantity=D(1), location=bin2, serials=["FG-1"], reference="SO-1", customer="Zed GmbH")
    return {"comp_a": Lot.objects.get(code="CA-1"), "sub": sub_lot, "fg1": SerialUnit.objects.get(serial="FG-1")}


def test_backward_trace_from_a_shipped_serial_reaches_supplier_receipts(assembly, site_a):
    user = user_with_role("quality inspector", site_a)
    tree = trace_backward(user=user, serial=assembly["fg1"])
    assert tree["serial"] == "FG-1"
    [sub] = tree["inputs"]
    assert (sub["item"], sub["lot"], sub["work_order"]) == ("SUB", "SUB-1", "WO-FG")
    components = {c["lot"]: c for c in sub["inputs"]}
    assert set(components) == {"CA-1", "CB-1"}
    assert components["CA-1"]["receipts"][0]["reference"] == "PO-1"
    assert components["CB-1"]["receipts"][0]["partner"] == "Bolt Co"


def test_forward_trace_from_a_component_lot_reaches_the_customer(assembly, site_a):
    user = user_with_role("quality inspector", site_a)
    tree = trace_forward(user=user, lot=assembly["comp_a"])
    assert tree["consumed"][0]["reference"] == "WO-SUB"
    [sub] = tree["outputs"]
    assert sub["lot"] == "SUB-1"
    finished = {f["serial"]: f for f in sub["outputs"]}
    assert set(finished) == {"FG-1", "FG-2"}
    assert finished["FG-1"]["shipments"][0]["reference"] == "SO-1"
    assert finished["FG-1"]["shipments"][0]["partner"] == "Zed GmbH"
    assert finished["FG-2"]["shipments"] == []


def test_trace_api_both_ways_and_scoped(assembly, api_client, site_a, site_b):
    api_client.force_authenticate(user_with_role("viewer", site_a))
    r = api_client.get("/api/v1/inventory/trace/?serial=FG/FG-1&direction=backward")
    assert r.status_code == 200 and r.json()["tree"]["inputs"][0]["lot"] == "SUB-1"
    r = api_client.get("/api/v1/inventory/trace/?lot=COMP-A/CA-1&direction=forward")
    assert r.status_code == 200 and r.json()["tree"]["outputs"][0]["outputs"]
    api_client.force_authenticate(user_with_role("viewer", site_b))
    assert api_client.get("/api/v1/inventory/trace/?lot=COMP-A/CA-1").status_code == 404
    assert api_client.get("/api/v1/inventory/trace/?serial=FG/FG-1").status_code == 404


def test_recall_holds_everything_downstream_in_stock_and_lists_shipments(assembly, api_client, site_a, bins):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    r = api_client.post("/api/v1/inventory/lots/COMP-A/CA-1/recall/", {"reason": "supplier notice"}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["lot"]["status"] == "recalled"
    assert body["held_lots"] == ["SUB/SUB-1"]  # one SUB unit is still in stock
    assert body["held_serials"] == ["FG/FG-2"]  # FG-1 was shipped: listed as a shipment instead
    assert [(s["reference"], s["customer"], s["serial"]) for s in body["affected_shipments"]] == [
        ("SO-1", "Zed GmbH", "FG-1")
    ]
    from inventory import errors

    with pytest.raises(errors.LotOnHold):
        services.stock_transfer(
            item=assembly["sub"].item,
            quantity=D(1),
            source=bins[2],
            destination=bins[1],
            lot=Lot.objects.get(code="SUB-1"),
        )


# --- CSV ---------------------------------------------------------------------------------

ITEMS_OK = "sku,name,unit,tracking,reorder_point,gtin\nA-1,Alpha,kg,none,5,\nA-2,Beta,pcs,lot,,4006381333931\n"
ITEMS_BAD = "sku,name,unit,tracking,reorder_point,gtin\nA-1,Alpha,kg,none,5,\n,No sku,kg,none,,\nA-3,Gamma,parsec,none,,\nA-4,Delta,kg,none,abc,\nA-1,Dup,kg,none,,\nA-5,E,kg,none,,123\n"


def test_items_import_dry_run_then_real():
    report = csvio.items_import(text=ITEMS_OK, dry_run=True)
    assert report.ok and report.imported == 2 and not Item.objects.exists()
    report = csvio.items_import(text=ITEMS_OK, dry_run=False)
    assert report.ok and Item.objects.get(sku="A-2").gtin == "04006381333931"


def test_items_import_reports_every_bad_row_and_imports_nothing():
    report = csvio.items_import(text=ITEMS_BAD, dry_run=False)
    assert [e["row"] for e in report.errors] == [3, 4, 5, 6, 7]
    assert report.imported == 0 and not Item.objects.exists()


def test_opening_stock_import_via_api(api_client, site_a, bins):
    LotItemFactory(sku="OS-L")
    ItemFactory(sku="OS-P")
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    good = "sku,location,quantity,lot,expiry_date\nOS-P,A-BIN1,5,,\nOS-L,A-BIN2,3,L9,2099-01-01\n"
    bad = good + "OS-L,A-BIN1,1,,\nNOPE,A-BIN1,1,,\nOS-P,B-BIN1,1,,\nOS-P,A-BIN1,-1,,\n"
    r = api_client.post("/api/v1/inventory/levels/import/?dry_run=true", {"csv": bad}, format="json")
    assert r.status_code == 400
    assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [
        (4, "lot_required"),
        (5, "not_found"),
        (6, "not_found"),
        (7, "invalid_quantity"),
    ]
    assert not StockMove.objects.exists()
    r = api_client.post("/api/v1/inventory/levels/import/?dry_run=true", {"csv": good}, format="json")
    assert r.status_code == 200 and r.json()["imported"] == 2 and not StockMove.objects.exists()
    r = api_client.post("/api/v1/inventory/levels/import/", {"csv": good}, format="json", HTTP_IDEMPOTENCY_KEY="os-1")
    assert r.status_code == 200 and StockLevel.objects.get(item__sku="OS-P").on_hand == 5
    again = api_client.post(
        "/api/v1/inventory/levels/import/", {"csv": good}, format="json", HTTP_IDEMPOTENCY_KEY="os-1"
    )
    assert again.json() == r.json() and StockLevel.objects.get(item__sku="OS-P").on_hand == 5


def test_csv_export_neutralises_formulas(api_client, site_a, bins):
    item = ItemFactory(sku="=HYPERLINK(1)", name="+cmd")
    receive(item, bins[1], 2, reference="@SUM(A1)")
    api_client.force_authenticate(user_with_role("viewer", site_a))
    levels = b"".join(api_client.get("/api/v1/inventory/levels/export/").streaming_content).decode()
    assert "'=HYPERLINK(1)" in levels and "'+cmd" in levels
    moves = b"".join(api_client.get("/api/v1/inventory/moves/export/").streaming_content).decode()
    assert "'@SUM(A1)" in moves and ",2.0000," in moves
    assert csvio.safe_cell("-2+3") == "'-2+3" and csvio.safe_cell(D("-2")) == D("-2")


# --- replenishment and expiry ---------------------------------------------------------------


def test_replenishment_suggests_reorder_quantity_or_up_to_max(site_a, bins):
    a = ItemFactory(sku="RP-A", reorder_point=D(10), reorder_quantity=D(50))
    b = ItemFactory(sku="RP-B", reorder_point=D(10), max_stock=D(100))
    ItemFactory(sku="RP-C", reorder_point=D(1))
    receive(a, bins[1], 4)
    receive(b, bins[1], 30)
    services.stock_reserve(item=b, quantity=D(25), site=site_a, reference="WO-R")
    rows = {r["sku"]: r for r in replenishment_internal(site=site_a)}
    assert rows["RP-A"]["order_quantity"] == 50 and rows["RP-A"]["available"] == 4
    assert rows["RP-B"]["order_quantity"] == 95  # up to max: 100 - (30 - 25)
    assert rows["RP-C"]["order_quantity"] == 1


def test_expiring_lots_listed_and_alerted_once(site_a, bins):
    item = LotItemFactory(sku="EXP")
    soon = timezone.localdate() + dt.timedelta(days=3)
    receive(item, bins[1], 2, lot_code="SOON", expiry_date=soon)
    receive(item, bins[1], 2, lot_code="LATER", expiry_date=soon + dt.timedelta(days=90))
    assert [r["lot__code"] for r in expiring_lots_internal(site=site_a, days=30)] == ["SOON"]
    assert services.expiry_alerts_refresh(site=site_a, days=30) == 1
    assert services.expiry_alerts_refresh(site=site_a, days=30) == 0
    assert Alert.objects.open().filter(kind=services.EXPIRY_ALERT).count() == 1
    services.stock_scrap(item=item, quantity=D(2), location=bins[1], lot=Lot.objects.get(code="SOON"), reason="x")
    services.expiry_alerts_refresh(site=site_a, days=30)
    assert not Alert.objects.open().filter(kind=services.EXPIRY_ALERT).exists()
