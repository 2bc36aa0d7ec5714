"""What partners asked for (#17): cycle counts and forecasts through the API, and a
multi-line receipt or shipment that names every bad line."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.utils import timezone

from inventory import services
from inventory.forecasting.models import DemandForecast
from inventory.models import CycleCount, Lot, Receipt, Shipment, StockLevel, StockMove
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tests.scoping import DetailWrite, ScopedEndpointMatrix, covers, nothing_written, results
from tracker.roles import ROLE_NAMES

pytestmark = pytest.mark.django_db

INV = "/api/v1/inventory"
NO_STOCK_VIEW = tuple(r for r in ROLE_NAMES if r != "operator")


@pytest.fixture
def client(api_client, site_a):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    return api_client


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


# --- every bad line named -----------------------------------------------------------------


def test_a_receipt_names_every_bad_line_and_writes_nothing(client, bins):
    ItemFactory(sku="R-OK")
    LotItemFactory(sku="R-LOT")
    body = {
        "site": "plant-a",
        "reference": "PO-M",
        "lines": [
            {"item": "R-OK", "quantity": "5", "location": "A-BIN1"},
            {"item": "R-LOT", "quantity": "2", "location": "A-BIN2"},  # no lot
            {"item": "R-OK", "quantity": "1", "location": "A-BIN1", "unit": "kg"},  # wrong unit
            {"item": "R-OK", "quantity": "1.5", "location": "A-BIN1"},  # pcs: not whole
            {"item": "R-OK", "quantity": "3", "location": "A-BIN2"},
        ],
    }
    with nothing_written():
        problem = _problem(client.post(f"{INV}/receipts/", body, format="json"), 400, "lot_required")
    assert problem["line"] == 1
    assert [(e["line"], e["code"]) for e in problem["line_errors"]] == [
        (1, "lot_required"),
        (2, "wrong_unit"),
        (3, "wrong_unit"),
    ]
    assert set(problem["errors"]) == {"lines[1].lot", "lines[2].unit", "lines[3].quantity"}
    assert "2 more bad lines" in problem["detail"]
    assert not Receipt.objects.exists() and not Lot.objects.exists()


def test_a_shipment_names_every_bad_line_and_writes_nothing(client, bins):
    _, bin1, _ = bins
    plain = ItemFactory(sku="S-OK")
    lotted = LotItemFactory(sku="S-LOT")
    receive(plain, bin1, 5)
    receive(lotted, bin1, 5, lot_code="L1")
    before = list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True))
    body = {
        "site": "plant-a",
        "reference": "SO-M",
        "lines": [
            {"item": "S-OK", "quantity": "4", "location": "A-BIN1"},
            {"item": "S-LOT", "quantity": "1", "location": "A-BIN1", "lot": "NOPE"},  # no such lot
            {"item": "S-OK", "quantity": "4", "location": "A-BIN1"},  # line 0 took it
            {"item": "S-LOT", "quantity": "2", "location": "A-BIN1", "lot": "L1"},
        ],
    }
    with nothing_written():
        problem = _problem(client.post(f"{INV}/shipments/", body, format="json"), 400, "validation_failed")
    assert [(e["line"], e["code"], e["status"]) for e in problem["line_errors"]] == [
        (1, "validation_failed", 400),
        (2, "insufficient_stock", 409),
    ]
    assert "lines[1].lot" in problem["errors"]
    assert any(key.startswith("lines[2].") for key in problem["errors"]), problem["errors"]
    assert not Shipment.objects.exists()
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True)) == before
    # One bad line keeps the answer it always had: its code, its status, its index.
    body["lines"] = [body["lines"][0], body["lines"][2]]
    problem = _problem(client.post(f"{INV}/shipments/", body, format="json"), 409, "insufficient_stock")
    assert problem["line"] == 1 and len(problem["line_errors"]) == 1


def test_field_errors_of_several_lines_are_named_by_the_serializer(client, bins):
    ItemFactory(sku="F-OK")
    body = {
        "site": "plant-a",
        "reference": "PO-F",
        "lines": [
            {"item": "NOPE", "quantity": "1", "location": "A-BIN1"},
            {"item": "F-OK", "quantity": "1", "location": "A-BIN1"},
            {"item": "F-OK", "quantity": "x", "location": "NOWHERE"},
        ],
    }
    problem = _problem(client.post(f"{INV}/receipts/", body, format="json"), 400, "validation_failed")
    lines = problem["errors"]["lines"]  # DRF: bad lines only, by index
    assert {index: set(errors) for index, errors in lines.items()} == {"0": {"item"}, "2": {"quantity", "location"}}


# --- cycle counts -------------------------------------------------------------------------


def test_count_create_record_approve_posts_the_variance(client, bins, site_a):
    area, bin1, bin2 = bins
    item = ItemFactory(sku="C-1")
    receive(item, bin1, 10)
    created = client.post(f"{INV}/counts/", {"location": area.code, "reference": "CC-1"}, format="json")
    assert created.status_code == 201, created.content
    count_id = created.json()["id"]
    url = f"{INV}/counts/{count_id}/"
    recorded = client.post(f"{url}record/", {"item": "C-1", "location": bin1.code, "counted": "7"}, format="json")
    assert recorded.status_code == 200, recorded.content
    assert recorded.json()["expected"] == "10.0000" and recorded.json()["variance"] == "-3.0000"
    detail = client.get(url).json()
    assert detail["status"] == "open" and [line["counted"] for line in detail["lines"]] == ["7.0000"]
    # The site separates duties (the default): the counter may not approve their own variance.
    _problem(client.post(f"{url}approve/", format="json"), 403, "separation_of_duties")
    assert StockLevel.objects.get(item=item, location=bin1).on_hand == D(10)
    client.force_authenticate(user_with_role("warehouse clerk", site_a))  # a colleague approves
    approved = client.post(f"{url}approve/", format="json", HTTP_IDEMPOTENCY_KEY="cc-1-approve")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert [(m["kind"], m["quantity"]) for m in approved.json()["moves"]] == [("count", "3.0000")]
    assert StockLevel.objects.get(item=item, location=bin1).on_hand == D(7)
    # The key replays; a second approval is an invalid transition and posts nothing.
    assert client.post(f"{url}approve/", format="json", HTTP_IDEMPOTENCY_KEY="cc-1-approve").status_code == 200
    _problem(client.post(f"{url}approve/", format="json"), 409, "invalid_transition")
    assert StockMove.objects.filter(kind="count").count() == 1


def test_count_bad_input_is_400_and_changes_nothing(client, bins, bin_b):
    area, bin1, _ = bins
    ItemFactory(sku="C-2")
    LotItemFactory(sku="C-LOT")
    count = services.cycle_count_create(location=bin1)
    url = f"{INV}/counts/{count.pk}/record/"
    outside = LocationFactory(site=bins[0].site, kind="bin", code="A-ELSEWHERE")
    for body, status, field in [
        ({"item": "C-2", "location": bin1.code, "counted": "-1"}, 400, "counted"),
        ({"item": "C-2", "location": bin1.code, "counted": "1.5"}, 400, "counted"),
        ({"item": "C-2", "location": outside.code, "counted": "1"}, 400, "location"),
        ({"item": "C-2", "location": bin_b.code, "counted": "1"}, 400, "location"),
        ({"item": "C-LOT", "location": bin1.code, "counted": "1"}, 400, "lot"),
        ({"item": "C-LOT", "location": bin1.code, "counted": "1", "lot": "NOPE"}, 400, "lot"),
    ]:
        with nothing_written():
            response = client.post(url, body, format="json")
        assert response.status_code == status, (body, response.content)
        assert field in response.json()["errors"], (body, response.json())
    with nothing_written():
        assert client.post(f"{INV}/counts/", {"location": "NOWHERE"}, format="json").status_code == 400


@covers("inventory-count-list POST")
def test_a_count_of_another_sites_location_is_refused(client, bins, bin_b):
    with nothing_written():
        response = client.post(f"{INV}/counts/", {"location": bin_b.code}, format="json")
    assert response.status_code == 400 and "location" in response.json()["errors"]
    assert client.post(f"{INV}/counts/", {"location": bins[1].code}, format="json").status_code == 201


def test_counts_list_query_count_does_not_grow(client, bins, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    area, bin1, bin2 = bins
    items = [ItemFactory(sku=f"QC-{i}") for i in range(3)]

    def make():
        count = services.cycle_count_create(location=area)
        for item in items:
            for where in (bin1, bin2):
                services.cycle_count_record(count=count, item=item, location=where, counted=D(1))

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{INV}/counts/").status_code == 200
        return len(ctx.captured_queries)

    make()
    client.get(f"{INV}/counts/")
    one = queries()
    for _ in range(5):
        make()
    assert queries() == one, "counts list: query count grows with rows"


class TestCountsScoped(ScopedEndpointMatrix):
    list_url = f"{INV}/counts/"
    key_field = "id"
    viewer_roles = NO_STOCK_VIEW
    detail_writes = {
        "inventory-count-record": DetailWrite(
            suffix="record/",
            body=lambda count: {"item": count.item_sku, "location": count.location.code, "counted": "1"},
        ),
        "inventory-count-approve": DetailWrite(suffix="approve/"),
    }

    def make_object(self, site):
        where = LocationFactory(site=site, code=f"{site.code}-CNT")
        item = ItemFactory(sku=f"{site.code}-CNT-ITEM")
        receive(item, where, 2)
        count = services.cycle_count_create(location=where, reference=f"{site.code}-CC")
        count.item_sku = item.sku
        return count


# --- forecasts ------------------------------------------------------------------------------


def _forecast(site, sku: str, **item) -> DemandForecast:
    product = ItemFactory(sku=sku, lead_time_days=14, **item)
    return DemandForecast.objects.create(
        item=product,
        site=site,
        computed_at=timezone.now(),
        status=DemandForecast.Status.OK,
        method="holt",
        sigma_weekly=2.0,
        forecast=[["2026-01-05", 10.0, 6.0, 14.0], ["2026-01-12", 12.0, 7.0, 17.0]],
    )


def test_forecasts_carry_the_reorder_suggestion(client, site_a):
    _forecast(site_a, "FC-1")
    rows = results(client.get(f"{INV}/forecasts/?site=plant-a"))
    assert [row["key"] for row in rows] == ["plant-a/FC-1"]
    row = rows[0]
    assert row["weeks"][1] == {"week": "2026-01-12", "mean": 12.0, "lower": 7.0, "upper": 17.0}
    # μ_LT = mean of the two lead-time weeks (11/week) × 2 weeks = 22; SS = 1.6449 × 2 × √2 = 4.65 → 5.
    assert row["suggestion"]["reorder_point"] == "27.0000"
    assert row["suggestion"]["safety_stock"] == "5.0000"
    higher = client.get(f"{INV}/forecasts/plant-a/FC-1/?service_level=0.99").json()
    assert D(higher["suggestion"]["safety_stock"]) > D(row["suggestion"]["safety_stock"])
    assert client.get(f"{INV}/forecasts/?service_level=2").status_code == 400


def test_reorder_suggestions_list_what_to_order(client, site_a, bins):
    item = ItemFactory(sku="RO-1", reorder_point=D(10), reorder_quantity=D(25))
    receive(item, bins[1], 4)
    rows = client.get(f"{INV}/forecasts/reorder/?site=plant-a").json()
    assert [(r["sku"], r["available"], r["order_quantity"]) for r in rows] == [("RO-1", "4.0000", "25.0000")]
    assert client.get(f"{INV}/forecasts/reorder/").status_code == 400


@covers("inventory-forecast-reorder GET")
def test_reorder_suggestions_of_another_site_are_not_found(client, site_b):
    assert client.get(f"{INV}/forecasts/reorder/?site={site_b.code}").status_code == 404
    assert client.get(f"{INV}/forecasts/reorder/?site=plant-a").status_code == 200


def test_forecasts_list_query_count_does_not_grow(client, site_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{INV}/forecasts/").status_code == 200
        return len(ctx.captured_queries)

    _forecast(site_a, "FQ-0")
    client.get(f"{INV}/forecasts/")
    one = queries()
    for i in range(1, 8):
        _forecast(site_a, f"FQ-{i}")
    assert queries() == one


class TestForecastsScoped(ScopedEndpointMatrix):
    list_url = f"{INV}/forecasts/"
    key_field = "key"
    viewer_roles = NO_STOCK_VIEW

    def make_object(self, site):
        return _forecast(site, f"{site.code}-FC")

    def object_key(self, obj):
        return f"{obj.site.code}/{obj.item.sku}"


def test_counts_are_closed_to_roles_without_the_permission(api_client, site_a, bins):
    count = services.cycle_count_create(location=bins[1])
    api_client.force_authenticate(user_with_role("viewer", site_a))
    assert api_client.get(f"{INV}/counts/{count.pk}/").status_code == 200
    with nothing_written():
        assert api_client.post(f"{INV}/counts/{count.pk}/approve/").status_code == 403
    assert CycleCount.objects.get(pk=count.pk).status == "open"
