"""The inventory API: natural keys, idempotency, every bad input, scoping, query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import services
from inventory.models import Lot, Receipt, StockLevel, StockMove
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tests.scoping import DetailWrite, ScopedEndpointMatrix, results
from tracker.roles import ROLE_NAMES

pytestmark = pytest.mark.django_db

MOVES = "/api/v1/inventory/moves/"


@pytest.fixture
def clerk(site_a):
    return user_with_role("warehouse clerk", site_a)


@pytest.fixture
def client(api_client, clerk):
    api_client.force_authenticate(clerk)
    return api_client


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    return response.json()


# --- creates -------------------------------------------------------------------------


def test_receive_then_transfer_by_natural_keys(client, bins):
    _, bin1, bin2 = bins
    ItemFactory(sku="BOLT-M6")
    r = client.post(
        MOVES,
        {
            "kind": "receive",
            "item": "BOLT-M6",
            "quantity": "10",
            "location": "A-BIN1",
            "reference": "PO-77",
            "external_id": "ERP-1",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    [move] = r.json()["moves"]
    assert (move["item"], move["destination"], move["quantity"], move["reference"]) == (
        "BOLT-M6",
        "A-BIN1",
        "10.0000",
        "PO-77",
    )
    r = client.post(
        MOVES,
        {"kind": "transfer", "item": "BOLT-M6", "quantity": "4", "source": "A-BIN1", "destination": "A-BIN2"},
        format="json",
    )
    assert r.status_code == 201
    levels = {row["location"]: row["on_hand"] for row in results(client.get("/api/v1/inventory/levels/?item=BOLT-M6"))}
    assert levels == {"A-BIN1": "6.0000", "A-BIN2": "4.0000"}
    assert [m["external_id"] for m in results(client.get(MOVES + "?q=ERP-1"))] == ["ERP-1"]


def test_idempotency_key_replays_and_rejects_a_different_body(client, bins):
    ItemFactory(sku="IDEM")
    body = {"kind": "receive", "item": "IDEM", "quantity": "3", "location": "A-BIN1"}
    first = client.post(MOVES, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(MOVES, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert StockMove.objects.filter(item__sku="IDEM").count() == 1
    other = client.post(MOVES, {**body, "quantity": "4"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    problem(other, 422, "idempotency_key_reused")
    assert StockLevel.objects.get(item__sku="IDEM").on_hand == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"item": "NOPE"}, 400, "validation_failed"),
        ({"unit": "kg"}, 400, "wrong_unit"),
        ({"quantity": "1.5"}, 400, "wrong_unit"),
        ({"quantity": "0"}, 400, "invalid_quantity"),
        ({"quantity": "-2"}, 400, "invalid_quantity"),
        ({"location": "B-BIN1"}, 400, "validation_failed"),  # another site's location: does not exist
        (
            {"kind": "transfer", "source": "A-BIN1", "destination": "A-BIN2", "quantity": "99"},
            409,
            "insufficient_stock",
        ),
        ({"kind": "issue", "quantity": "99"}, 409, "insufficient_stock"),
    ],
)
def test_bad_input_on_plain_item(client, bins, bin_b, body, status, code):
    item = ItemFactory(sku="PLAIN")
    receive(item, bins[1], 5)
    before = StockMove.objects.count()
    payload = {"kind": "receive", "item": "PLAIN", "quantity": "1", "location": "A-BIN1", **body}
    problem(client.post(MOVES, payload, format="json"), status, code)
    assert StockMove.objects.count() == before


def test_missing_lot_for_lot_tracked_item(client, bins):
    LotItemFactory(sku="GLUE")
    problem(
        client.post(MOVES, {"kind": "receive", "item": "GLUE", "quantity": "1", "location": "A-BIN1"}, format="json"),
        400,
        "lot_required",
    )


def test_duplicate_serial(client, bins):
    SerialItemFactory(sku="PUMP")
    ok = client.post(
        MOVES,
        {"kind": "receive", "item": "PUMP", "quantity": "1", "location": "A-BIN1", "serials": ["P-1"]},
        format="json",
    )
    assert ok.status_code == 201
    problem(
        client.post(
            MOVES,
            {"kind": "receive", "item": "PUMP", "quantity": "1", "location": "A-BIN1", "serials": ["P-1"]},
            format="json",
        ),
        409,
        "serial_duplicate",
    )


def test_expired_lot(client, bins):
    item = LotItemFactory(sku="MILK")
    receive(item, bins[1], 5, lot_code="M1")
    Lot.objects.filter(code="M1").update(expiry_date=timezone.localdate() - dt.timedelta(days=1))
    problem(
        client.post(
            MOVES,
            {
                "kind": "transfer",
                "item": "MILK",
                "quantity": "1",
                "lot": "M1",
                "source": "A-BIN1",
                "destination": "A-BIN2",
            },
            format="json",
        ),
        409,
        "lot_expired",
    )
    past = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    problem(
        client.post(
            MOVES,
            {
                "kind": "receive",
                "item": "MILK",
                "quantity": "1",
                "lot": "M2",
                "location": "A-BIN1",
                "expiry_date": past,
            },
            format="json",
        ),
        409,
        "lot_expired",
    )


def test_transfer_to_another_sites_location_writes_nothing(client, bins, bin_b):
    item = ItemFactory(sku="X-SITE")
    receive(item, bins[1], 5)
    before = StockMove.objects.count()
    r = client.post(
        MOVES,
        {"kind": "transfer", "item": "X-SITE", "quantity": "1", "source": "A-BIN1", "destination": "B-BIN1"},
        format="json",
    )
    assert r.status_code == 400 and "destination" in r.json()["errors"]
    assert StockMove.objects.count() == before


def test_user_without_add_permission_cannot_post_moves(api_client, site_a, bins):
    ItemFactory(sku="RO")
    api_client.force_authenticate(user_with_role("viewer", site_a))
    r = api_client.post(MOVES, {"kind": "receive", "item": "RO", "quantity": "1", "location": "A-BIN1"}, format="json")
    assert r.status_code == 403


def test_receipt_of_several_lines_is_all_or_nothing(client, bins):
    ItemFactory(sku="R-1")
    LotItemFactory(sku="R-2")
    body = {
        "site": "plant-a",
        "reference": "PO-9",
        "partner": "ACME",
        "external_id": "ERP-PO-9",
        "lines": [
            {"item": "R-1", "quantity": "5", "location": "A-BIN1"},
            {"item": "R-2", "quantity": "2", "location": "A-BIN2"},  # no lot: lot_required
        ],
    }
    body_problem = problem(client.post("/api/v1/inventory/receipts/", body, format="json"), 400, "lot_required")
    assert body_problem["line"] == 1
    assert not StockMove.objects.exists() and not Receipt.objects.exists()
    body["lines"][1]["lot"] = "L-R2"
    r = client.post("/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-9")
    assert r.status_code == 201, r.content
    assert [m["item"] for m in r.json()["moves"]] == ["R-1", "R-2"]
    assert (
        client.post("/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-9").status_code == 201
    )
    assert Receipt.objects.count() == 1 and StockMove.objects.count() == 2


def test_shipment_of_sales_order(client, bins):
    item = ItemFactory(sku="S-1")
    receive(item, bins[1], 5)
    r = client.post(
        "/api/v1/inventory/shipments/",
        {
            "site": "plant-a",
            "reference": "SO-1",
            "partner": "Bob Ltd",
            "lines": [{"item": "S-1", "quantity": "2", "location": "A-BIN1"}],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["moves"][0]["destination"] == "PLANT-A-CUSTOMER"
    problem(
        client.post(
            "/api/v1/inventory/shipments/",
            {"site": "plant-a", "reference": "SO-2", "lines": [{"item": "S-1", "quantity": "9", "location": "A-BIN1"}]},
            format="json",
        ),
        409,
        "insufficient_stock",
    )


def test_reserve_and_release(client, bins):
    item = ItemFactory(sku="RES")
    receive(item, bins[1], 5)
    r = client.post(
        "/api/v1/inventory/reservations/",
        {"item": "RES", "quantity": "4", "site": "plant-a", "reference": "WO-1"},
        format="json",
    )
    assert r.status_code == 201, r.content
    problem(
        client.post(
            "/api/v1/inventory/reservations/",
            {"item": "RES", "quantity": "2", "site": "plant-a", "reference": "WO-2"},
            format="json",
        ),
        409,
        "insufficient_stock",
    )
    r = client.post("/api/v1/inventory/reservations/release/", {"reference": "WO-1"}, format="json")
    assert r.json() == {"released": 1}


def test_items_create_and_duplicate(client):
    r = client.post(
        "/api/v1/inventory/items/",
        {"sku": "NEW-1", "name": "New", "unit": "kg", "gtin": "4006381333931"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["gtin"] == "04006381333931"
    problem(client.post("/api/v1/inventory/items/", {"sku": "NEW-1", "name": "Again"}, format="json"), 409, "duplicate")
    bad = client.post("/api/v1/inventory/items/", {"sku": "NEW-2", "name": "x", "gtin": "4006381333932"}, format="json")
    assert bad.status_code == 400


def test_lot_status_and_detail_by_natural_key(client, bins):
    item = LotItemFactory(sku="LK")
    receive(item, bins[1], 1, lot_code="A/B".replace("/", "-"))
    r = client.get("/api/v1/inventory/lots/LK/A-B/")
    assert r.status_code == 200 and r.json()["key"] == "LK/A-B"
    r = client.post("/api/v1/inventory/lots/LK/A-B/status/", {"status": "on_hold", "reason": "QA"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "on_hold"


# --- scoping -----------------------------------------------------------------------------

NO_STOCK_VIEW = tuple(r for r in ROLE_NAMES if r != "operator")  # operators see items, lots and serials only


def _stocked(site, tracking="none"):
    loc = LocationFactory(site=site, code=f"{site.code}-SCOPE")
    factory = {"none": ItemFactory, "lot": LotItemFactory, "serial": SerialItemFactory}[tracking]
    item = factory(sku=f"{site.code}-ITEM")
    kwargs = {"lot_code": f"{site.code}-LOT"} if tracking == "lot" else {}
    if tracking == "serial":
        kwargs = {"serials": [f"{site.code}-SN"]}
    return receive(item, loc, 1, **kwargs)[0]


class TestLevelsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/levels/"
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        move = _stocked(site)
        return StockLevel.objects.get(item=move.item, location=move.destination)


class TestMovesScoped(ScopedEndpointMatrix):
    list_url = MOVES
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        return _stocked(site)


class TestLotsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/lots/"
    key_field = "key"
    detail_writes = {
        "inventory-lot-recall": DetailWrite(suffix="recall/", body={"reason": "supplier notice"}),
        "inventory-lot-set-status": DetailWrite(suffix="status/", body={"status": "on_hold", "reason": "QA"}),
    }

    def make_object(self, site):
        return _stocked(site, "lot").lot

    def object_key(self, obj):
        return f"{obj.item.sku}/{obj.code}"


class TestSerialsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/serials/"
    key_field = "key"

    def make_object(self, site):
        return _stocked(site, "serial").serial

    def object_key(self, obj):
        return f"{obj.item.sku}/{obj.serial}"


def _document(site, service, **partner):
    move = _stocked(site)
    return service(
        site=site,
        reference=f"{site.code}-DOC",
        lines=[{"item": move.item, "quantity": D(1), "location": move.destination}],
        **partner,
    )


class TestReceiptsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/receipts/"
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        return _document(site, services.receipt_create, supplier="Acme")


class TestShipmentsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/shipments/"
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        return _document(site, services.shipment_create, customer="Zed")


class TestReservationsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/reservations/"
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        move = _stocked(site)
        return services.stock_reserve(item=move.item, quantity=D(1), site=site, reference=f"{site.code}-RES")


def test_items_are_global_but_need_a_site_and_the_permission(api_client, site_a):
    ItemFactory(sku="GLOBAL")
    url = "/api/v1/inventory/items/"
    for user, visible in [
        (user_with_role("operator", site_a), True),
        (user_with_role("viewer"), False),  # a role but no site
        (user_with_role(None, site_a), False),  # a site but no role
    ]:
        api_client.force_authenticate(user)
        assert ("GLOBAL" in {r["sku"] for r in results(api_client.get(url))}) is visible
        assert api_client.get(url + "GLOBAL/").status_code == (200 if visible else 404)
    api_client.force_authenticate(None)
    assert api_client.get(url).status_code in (401, 403)


def test_lot_received_at_b_is_visible_at_a_once_stock_arrives(api_client, site_a, site_b, bin_b, bins):
    item = LotItemFactory(sku="TRAVEL")
    receive(item, bin_b, 3, lot_code="T1")
    user = user_with_role("viewer", site_a)
    api_client.force_authenticate(user)
    assert api_client.get("/api/v1/inventory/lots/TRAVEL/T1/").status_code == 404
    services.stock_transfer(item=item, quantity=D(1), source=bin_b, destination=bins[1], lot=Lot.objects.get(code="T1"))
    assert api_client.get("/api/v1/inventory/lots/TRAVEL/T1/").status_code == 200
    moves = {m["destination"] for m in results(api_client.get(MOVES))}
    assert moves == {"A-BIN1"}  # the transit leg into site A, not site B's receipt


# --- query counts ---------------------------------------------------------------------------


def _count(client, url) -> int:
    client.get(url)  # warm the per-user permission caches, which the first request fills
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/inventory/levels/",
        MOVES,
        "/api/v1/inventory/lots/",
        "/api/v1/inventory/serials/",
        "/api/v1/inventory/items/",
    ],
)
def test_list_query_count_does_not_grow(client, bins, url):
    def make(n, start):
        for i in range(start, start + n):
            receive(LotItemFactory(sku=f"QC-L{i}"), bins[1 + i % 2], 1, lot_code=f"QL{i}")
            receive(SerialItemFactory(sku=f"QC-S{i}"), bins[1], 1, serials=[f"QS{i}"])

    make(1, 0)
    one = _count(client, url)
    make(12, 1)
    assert _count(client, url) == one


def test_level_filters_by_subtree_site_and_lot(client, bins, site_a):
    area, bin1, bin2 = bins
    outside = LocationFactory(site=site_a, code="A-DOCK", kind="dock")
    item = LotItemFactory(sku="FILT")
    receive(item, bin1, 1, lot_code="F1")
    receive(item, bin2, 2, lot_code="F2")
    receive(item, outside, 4, lot_code="F1")
    url = "/api/v1/inventory/levels/"
    assert {r["location"] for r in results(client.get(url + "?within=A-STORE"))} == {"A-BIN1", "A-BIN2"}
    assert {r["location"] for r in results(client.get(url + "?lot=F1&site=plant-a"))} == {"A-BIN1", "A-DOCK"}
    assert results(client.get(url + "?within=NOWHERE")) == []


def test_item_patch_goes_through_the_service(client):
    ItemFactory(sku="PATCH-1", name="Old")
    r = client.patch("/api/v1/inventory/items/PATCH-1/", {"name": "New", "reorder_point": "7"}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["reorder_point"]) == ("New", "7.0000")


def test_moves_list_is_cursor_paginated_and_filterable(client, bins):
    item = ItemFactory(sku="CUR")
    for i in range(5):
        receive(item, bins[1], 1, reference=f"PO-{i}")
    r = client.get(MOVES + "?item=CUR&page_size=2")
    body = r.json()
    assert len(body["results"]) == 2 and body["next"] and "cursor=" in body["next"]
    assert [m["reference"] for m in body["results"]] == ["PO-4", "PO-3"]
    assert [m["reference"] for m in results(client.get(MOVES + "?reference=PO-1"))] == ["PO-1"]
