"""EPCIS capture and the device pipeline pick stock by inventory's one rule (``stock_pick``):
a held lot is skipped when another usable lot is there, and other references' reservations are kept."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from devices import services as device_services
from devices.epcis.mapping import gln_of, gtin_of
from devices.models import TargetKind, UploadStatus
from inventory import services as stock
from inventory.models import Lot, StockLevel, StockMove, StockReservation
from tests.factories.devices import DeviceFactory, ReadPointFactory, TagAssignmentFactory, TagFactory, ZoneFactory
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory

pytestmark = pytest.mark.django_db

CAPTURE = "/api/v1/epcis/capture"
DOCK = "urn:epc:id:sgln:0614141.00888.0"
ITEM_CLASS = "urn:epc:idpat:sgtin:4012345.012345.*"


def soon(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def capture(client, event: dict):
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-01-05T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "readPoint": {"id": DOCK},
        "bizLocation": {"id": DOCK},
        **event,
    }
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-05T10:00:00.000Z",
        "epcisBody": {"eventList": [event]},
    }
    return client.post(CAPTURE, data=json.dumps(document).encode(), content_type="application/ld+json")


def shipping(quantity: int, n: int = 1) -> dict:
    return {
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "quantityList": [{"epcClass": ITEM_CLASS, "quantity": quantity}],
    }


@pytest.fixture
def dock(site_a, make_user, api_client):
    """A dock at site A (its SGLN is ``DOCK``), a clerk's client and a lot-tracked item with a GTIN."""
    location = LocationFactory(site=site_a, code="DOCK-P", kind="dock", gln=gln_of("0614141", "00888"))
    item = LotItemFactory(sku="EP-LOT", gtin=gtin_of("4012345", "012345"))
    api_client.force_authenticate(make_user("warehouse clerk", site_a))
    return location, item, api_client


def shipped(item) -> list[tuple[str, Decimal]]:
    return list(StockMove.objects.filter(item=item, kind="ship").order_by("pk").values_list("lot__code", "quantity"))


def test_epcis_shipping_skips_a_held_lot_when_another_usable_lot_is_there(dock):
    location, item, client = dock
    receive(item, location, 5, lot_code="HELD", expiry_date=soon(3))  # first to expire, then held
    receive(item, location, 5, lot_code="FINE", expiry_date=soon(30))
    stock.lot_set_status(lot=Lot.objects.get(code="HELD"), status="on_hold", reason="QA")
    response = capture(client, shipping(4))
    assert response.status_code == 202, response.content
    assert shipped(item) == [("FINE", Decimal(4))]
    # More than the usable lots hold: refused, naming what is short; nothing of the held lot moves.
    response = capture(client, shipping(2, n=2))
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "insufficient_stock" and "EP-LOT" in response.json()["detail"]
    assert StockLevel.objects.get(lot__code="HELD").on_hand == 5


def test_epcis_shipping_takes_lots_first_expiry_first_out(dock):
    location, item, client = dock
    receive(item, location, 5, lot_code="LATE", expiry_date=soon(30))
    receive(item, location, 5, lot_code="EARLY", expiry_date=soon(3))
    response = capture(client, shipping(7))
    assert response.status_code == 202, response.content
    assert shipped(item) == [("EARLY", Decimal(5)), ("LATE", Decimal(2))]


def test_epcis_shipping_keeps_other_references_reservations(dock, site_a):
    location, item, client = dock
    receive(item, location, 5, lot_code="EARLY", expiry_date=soon(3))
    receive(item, location, 5, lot_code="LATE", expiry_date=soon(30))
    early = Lot.objects.get(code="EARLY")
    stock.stock_reserve(item=item, quantity=Decimal(5), site=site_a, reference="WO-1", lot=early)
    response = capture(client, shipping(3))
    assert response.status_code == 202, response.content
    assert shipped(item) == [("LATE", Decimal(3))]  # EARLY is WO-1's
    response = capture(client, shipping(3, n=2))  # 2 left that nobody reserved
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert "reserved" in response.json()["detail"]
    reservation = StockReservation.objects.get(reference="WO-1")
    assert reservation.status == "open" and reservation.quantity == 5


def test_epcis_transformation_issues_around_a_held_lot_and_reservations(dock, site_a):
    location, item, client = dock
    plain = ItemFactory(sku="EP-PLAIN", gtin=gtin_of("4012345", "066666"))
    receive(item, location, 5, lot_code="HELD", expiry_date=soon(3))
    receive(item, location, 5, lot_code="FINE", expiry_date=soon(30))
    receive(plain, location, 10)
    stock.lot_set_status(lot=Lot.objects.get(code="HELD"), status="on_hold", reason="QA")
    stock.stock_reserve(item=plain, quantity=Decimal(8), site=site_a, reference="WO-1")
    event = {
        "type": "TransformationEvent",
        "eventID": "urn:uuid:00000000-0000-4000-8000-000000000099",
        "bizStep": "commissioning",
        "transformationID": "urn:uuid:00000000-0000-4000-8000-00000000aaaa",
        "inputQuantityList": [
            {"epcClass": ITEM_CLASS, "quantity": 3},
            {"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*", "quantity": 2},
        ],
    }
    response = capture(client, event)
    assert response.status_code == 202, response.content
    issued = StockMove.objects.filter(kind="issue").order_by("pk").values_list("item__sku", "lot__code", "quantity")
    assert list(issued) == [("EP-LOT", "FINE", Decimal(3)), ("EP-PLAIN", None, Decimal(2))]
    event["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000100"
    event["inputQuantityList"] = [{"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*", "quantity": 1}]
    response = capture(client, event)  # 8 left, all WO-1's
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"


# --------------------------------------------------------------------------- the device pipeline

NOW = timezone.now().replace(microsecond=0)
T0 = NOW - dt.timedelta(hours=1)


def zebra(*events) -> bytes:
    """events: (tag number, antenna, seconds after T0, rssi, reads)."""
    out = []
    for n, antenna, seconds, rssi, reads in events:
        t = T0 + dt.timedelta(seconds=seconds)
        out.append(
            {
                "type": "SIMPLE",
                "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000",
                "data": {"idHex": f"E2000000000000000000{n:04X}", "antenna": antenna, "peakRssi": rssi, "reads": reads},
            }
        )
    return json.dumps(out).encode()


def process(device, body):
    upload, created = device_services.reader_upload_receive(device=device, body=body)
    assert created
    return device_services.reader_upload_process(upload_id=upload.pk)


@pytest.fixture
def floor(site_a):
    reader = DeviceFactory(site=site_a, device_id="FX-PICK")
    zones = {code: ZoneFactory(site=site_a, code=code) for code in ("ZP-A", "ZP-B")}
    for port, code in enumerate(("ZP-A", "ZP-B"), start=1):
        ReadPointFactory(device=reader, port=port, location=zones[code])
    return reader, zones


def tag_lot(site, n: int, lot: Lot) -> None:
    tag = TagFactory(site=site, tag_id=f"epc:hex:E2000000000000000000{n:04X}")
    TagAssignmentFactory(tag=tag, target_kind=TargetKind.LOT, lot=lot, code="")


def test_pipeline_refuses_a_held_lot_and_moves_the_usable_one_beside_it(floor, site_a):
    reader, zones = floor
    item = LotItemFactory(sku="PIPE-LOT")
    receive(item, zones["ZP-A"], 10, lot_code="P-HELD", expiry_date=soon(3))
    receive(item, zones["ZP-A"], 10, lot_code="P-FINE", expiry_date=soon(30))
    held, fine = Lot.objects.get(code="P-HELD"), Lot.objects.get(code="P-FINE")
    stock.lot_set_status(lot=held, status="on_hold", reason="QA")
    tag_lot(site_a, 21, held)
    tag_lot(site_a, 22, fine)
    upload = process(reader, zebra((21, 2, 0, -50, 3), (22, 2, 0, -50, 3)))
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["transfers"] == 1 and upload.result["effect_errors"] == 1
    assert upload.result["effect_error_details"][0]["code"] == "lot_on_hold"
    assert StockLevel.objects.get(lot=held, on_hand__gt=0).location == zones["ZP-A"]
    assert StockLevel.objects.get(lot=fine, on_hand__gt=0).location == zones["ZP-B"]


def test_pipeline_moves_a_reserved_lot_inside_the_site_and_keeps_the_reservation(floor, site_a):
    reader, zones = floor
    item = LotItemFactory(sku="PIPE-RES")
    receive(item, zones["ZP-A"], 10, lot_code="P-RES")
    lot = Lot.objects.get(code="P-RES")
    stock.stock_reserve(item=item, quantity=Decimal(6), site=site_a, reference="WO-7", lot=lot)
    tag_lot(site_a, 23, lot)
    upload = process(reader, zebra((23, 2, 0, -50, 3)))
    assert upload.result["transfers"] == 1, upload.result
    # The pallet moved whole (the site's availability is unchanged); WO-7 still holds its 6.
    assert StockLevel.objects.get(lot=lot, on_hand__gt=0).location == zones["ZP-B"]
    reservation = StockReservation.objects.get(reference="WO-7")
    assert reservation.status == "open" and reservation.quantity == 6
    assert stock.site_available(item=item, site_id=site_a.pk) == 4
