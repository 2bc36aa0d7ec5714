"""A serial unit that a closed transfer order recorded missing is read at a dock: the read
books nothing (the unit stays missing, the ledger unchanged) and raises one alert at the
read site naming the unit and its order; a person books it found, which clears the alert."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import timezone

from devices.models import ReaderUpload, TargetKind, UploadStatus
from devices.tests.helpers import post_upload
from inventory import services
from inventory.models import SerialUnit, StockMove
from inventory.selectors import ledger_differences
from tests.factories.devices import ReadPointFactory, TagAssignmentFactory, TagFactory, device_with_key
from tests.factories.inventory import SerialItemFactory, receive
from tests.factories.tracker import LocationFactory
from tracker.models import Alert, LocationKind, Site
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db

EPC = "E28011606000020500000B42"


def zebra(antenna: int, at: dt.datetime) -> bytes:
    event = {
        "type": "SIMPLE",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "data": {"idHex": EPC, "antenna": antenna, "peakRssi": -50, "reads": 4},
    }
    return json.dumps([event]).encode()


def post(secret: str, body: bytes, capture: Callable[..., Any]) -> ReaderUpload:
    with capture(execute=True):
        response = post_upload(body, secret)
    assert response.status_code == 202, response.content
    upload = ReaderUpload.objects.get(pk=response.json()["id"])
    assert upload.status == UploadStatus.PROCESSED, upload.reason
    return upload


def test_a_missing_serial_read_at_the_dock_raises_an_alert_and_books_nothing(
    site_a: Site, site_b: Site, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    stores = LocationFactory(site=site_a, kind="zone", code="A-STORES")
    dock = LocationFactory(site=site_b, kind=LocationKind.DOCK, code="B-DOCK")
    pump = SerialItemFactory(sku="PUMP")
    receive(pump, stores, 2, serials=["P1", "P2"])
    order = services.transfer_order_create(source=stores, destination=dock, lines=[{"item": pump, "quantity": D(2)}])
    line = order.lines.get()
    services.transfer_order_dispatch(order=order, serials={line.pk: ["P1", "P2"]})
    services.transfer_order_receive(order=order, lines=[{"line": line.pk, "serials": ["P1"]}])
    services.transfer_order_close(order=order, reason="P2 not on the truck")
    order.refresh_from_db()
    p2 = SerialUnit.objects.get(item=pump, serial="P2")
    loss = virtual_location(site=site_a, kind=LocationKind.ADJUSTMENT)
    assert (p2.status, p2.location) == ("missing", loss)
    TagAssignmentFactory(
        tag=TagFactory(site=site_b, tag_id=f"epc:hex:{EPC}"), target_kind=TargetKind.SERIAL, serial=p2, code=""
    )
    reader, secret = device_with_key(site=site_b, device_id="FX-B")
    ReadPointFactory(device=reader, port=1, location=dock)
    moves = StockMove.objects.count()

    read_at = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=60)
    upload = post(secret, zebra(1, read_at), django_capture_on_commit_callbacks)
    assert upload.result.get("missing_serials_sighted") == 1, upload.result
    assert "transfers" not in upload.result and "effect_errors" not in upload.result, upload.result
    p2.refresh_from_db()
    assert (p2.status, p2.location) == ("missing", loss)  # not booked by the read
    assert StockMove.objects.count() == moves
    alert = Alert.objects.get(kind=services.SIGHTED_ALERT)
    assert alert.site_id == site_b.pk and alert.cleared_at is None
    assert alert.subject == "serial:PUMP/P2" and order.number in alert.message and "B-DOCK" in alert.message
    assert alert.data["transfer"] == order.number
    assert ledger_differences() == []

    # A person looks at the unit and books it found at the dock: the alert clears.
    services.transfer_order_serial_found(order=order, serial="P2", location=dock)
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    p2.refresh_from_db()
    assert (p2.status, p2.location) == ("in_stock", dock)
    assert ledger_differences() == []
