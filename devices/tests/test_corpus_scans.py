"""Handheld action scans carry out the inventory service they name, under the device's
site; GS1 data with a wrong check digit or an impossible date rejects the upload and
changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction

from devices.models import ReaderUpload, UploadStatus
from devices.parsers import ParseError, parse
from devices.tests.helpers import post_upload
from inventory import services as inventory_services
from inventory.models import StockLevel, StockMove
from tests.factories.inventory import LotItemFactory
from tests.factories.tracker import LocationFactory

pytestmark = pytest.mark.django_db
GTIN = "09501101530010"  # check digit 0


def batch(*scans: dict, upload_id: str = "hh-1") -> bytes:
    return json.dumps({"device_id": "HH-TC52-0042", "upload_id": upload_id, "scans": list(scans)}).encode()


def scan(raw: str, action: str | None = None, seq: int = 1, **extra) -> dict:
    return {
        "seq": seq,
        "scanned_at": "2025-11-18T09:48:02Z",
        "raw": raw,
        **({"action": action} if action else {}),
        **extra,
    }


def snapshot() -> tuple:
    levels = sorted(
        (
            lv.item.sku,
            lv.location.code,
            lv.lot.code if lv.lot else None,
            str(lv.lot.expiry_date) if lv.lot else None,
            lv.on_hand,
        )
        for lv in StockLevel.objects.filter(location__is_virtual=False, on_hand__gt=0).select_related(
            "item", "location", "lot"
        )
    )
    moves = sorted(
        (m.kind, m.quantity, m.source.kind, m.destination.code, m.lot.code if m.lot else None)
        for m in StockMove.objects.select_related("source", "destination", "lot")
    )
    return levels, moves


def post(story, body, capture):
    with capture(execute=True):
        response = post_upload(body, story.secrets["gs1_scans"])
    return ReaderUpload.objects.get(pk=response.json()["id"])


@pytest.fixture
def bin_b(story):
    return LocationFactory(site=story.site, kind="bin", code="B-01", parent=story.zones["STORES"])


def test_receive_10_of_lot_into_a_bin_is_the_receive_form(story, bin_b, django_capture_on_commit_callbacks):
    item = LotItemFactory(sku="RESIN", gtin=GTIN)
    before = snapshot()
    # What the receive form does with: item, 10, bin B-01, lot L-77, expiry 2027-01-31.
    with transaction.atomic():
        inventory_services.stock_receive(
            item=item,
            quantity=Decimal(10),
            location=bin_b,
            lot_code="L-77",
            expiry_date=dt.date(2027, 1, 31),
        )
        by_form = snapshot()
        transaction.set_rollback(True)
    assert snapshot() == before
    raw = f"]C101{GTIN}17270131" + "10L-77\x1d3010"
    upload = post(story, batch(scan(raw, "receive", location="B-01")), django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED, upload.reason
    assert upload.result["scan_receives"] == 1
    assert snapshot() == by_form


def test_a_location_label_scanned_first_is_where_the_receipt_goes(story, bin_b, django_capture_on_commit_callbacks):
    story.site.gln = "9501101000018"
    story.site.save()
    LotItemFactory(sku="RESIN", gtin=GTIN)
    body = batch(
        scan("]C14149501101000018254B-01", seq=1),
        scan(f"]C101{GTIN}10L-77\x1d3004", "receive", seq=2),
    )
    upload = post(story, body, django_capture_on_commit_callbacks)
    assert upload.result.get("scan_receives") == 1, upload.result
    assert StockLevel.objects.get(location=bin_b).on_hand == 4


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        (f"]C101{GTIN[:-1]}7" + "10L-77\x1d3010", ("AI (01)", "check digit")),
        (f"]C101{GTIN}17270231" + "10L-77\x1d3010", ("(17)", "270231")),
        ("]C100095011010000000422", ("AI (00)", "SSCC check digit")),
        ("]C14149501101000019254B-01", ("AI (414)", "GLN check digit")),
        ("]C18003095011010000195001", ("AI (8003)", "GRAI check digit")),
    ],
)
def test_wrong_gs1_data_is_rejected_with_the_ai_and_changes_nothing(
    story, bin_b, raw, fragments, django_capture_on_commit_callbacks
):
    LotItemFactory(sku="RESIN", gtin=GTIN)
    with pytest.raises(ParseError) as err:
        parse("gs1_scans", batch(scan(raw, "receive", location="B-01")))
    assert all(f in err.value.reason for f in fragments), err.value.reason
    before = snapshot()
    upload = post(story, batch(scan(raw, "receive", location="B-01")), django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.REJECTED and "scans[0] (seq 1)" in upload.reason
    assert snapshot() == before


def test_issue_move_count_and_ship(story, bin_b, django_capture_on_commit_callbacks):
    item = LotItemFactory(sku="RESIN", gtin=GTIN)
    inventory_services.stock_receive(item=item, quantity=Decimal(20), location=bin_b, lot_code="L-77")
    label = f"]C101{GTIN}10L-77\x1d30"
    body = batch(
        scan(label + "03", "issue", seq=1, location="B-01", reference="WO-1"),
        scan(label + "05", "move", seq=2, location="B-01", to_location="WS030-IN"),
        scan(label + "02", "ship", seq=3, location="WS030-IN", reference="SO-9"),
        scan(label + "11", "count", seq=4, location="B-01"),
    )
    upload = post(story, body, django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED, upload.reason
    assert {k: upload.result.get(k) for k in ("scan_issues", "scan_moves", "scan_ships", "scan_counts")} == {
        "scan_issues": 1,
        "scan_moves": 1,
        "scan_ships": 1,
        "scan_counts": 1,
    }, upload.result
    assert StockLevel.objects.get(location=bin_b).on_hand == 12
    assert StockLevel.objects.get(location=story.zones["WS030-IN"]).on_hand == 3


def test_a_refused_action_is_recorded_and_the_rest_applies(story, bin_b, django_capture_on_commit_callbacks):
    LotItemFactory(sku="RESIN", gtin=GTIN)
    body = batch(
        scan(f"]C101{GTIN}10L-77\x1d3099", "ship", seq=1, location="B-01"),  # nothing in stock
        scan(f"]C101{GTIN}10L-77\x1d3001", "receive", seq=2, location="B-01"),
    )
    upload = post(story, body, django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["scan_errors"] == 1 and upload.result["scan_receives"] == 1
    assert upload.result["scan_error_details"][0]["seq"] == 1


def test_a_traveler_scan_finds_the_order(story, bin_b, django_capture_on_commit_callbacks):
    from tests.factories.wip import OperationFactory, RoutingFactory, WorkOrderFactory, WorkstationFactory

    item = LotItemFactory(sku="RESIN", gtin=GTIN)
    inventory_services.stock_receive(item=item, quantity=Decimal(5), location=bin_b, lot_code="L-77")
    routing = RoutingFactory(site=story.site)
    OperationFactory(routing=routing, workstation=WorkstationFactory(site=story.site))
    order = WorkOrderFactory(routing=routing, number="WO-2025-00417")
    body = batch(
        scan("]C0WO-2025-00417", seq=1),
        scan(f"]C101{GTIN}10L-77\x1d3002", "issue_to_work_order", seq=2, location="B-01"),
    )
    upload = post(story, body, django_capture_on_commit_callbacks)
    assert upload.result["work_orders_found"] == 1 and upload.result["scan_issues"] == 1, upload.result
    (move,) = StockMove.objects.filter(kind=StockMove.Kind.ISSUE)
    assert move.reference == order.number and move.reference_type == "work_order"
