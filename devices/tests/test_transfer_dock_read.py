"""Issue #17 end to end: a fixed reader at the destination site's dock reads a tagged lot
travelling on a transfer order, posted through the upload endpoint with the device's key.
The read receives the order's line in full (in-transit -> the dock); a retry of the upload
changes nothing; a read elsewhere at the destination, or at the source site's dock, receives
nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import timezone

from devices import services as device_services
from devices.models import ReaderUpload, TargetKind, UploadStatus
from devices.tests.helpers import post_upload
from inventory import services
from inventory.models import Lot, StockLevel, StockMove, TransferOrder
from inventory.selectors import ledger_differences
from tests.factories.devices import ReadPointFactory, TagAssignmentFactory, TagFactory, device_with_key
from tests.factories.inventory import LotItemFactory, receive
from tests.factories.tracker import LocationFactory
from tracker.models import Location, LocationKind, Site
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db

EPC = "E28011606000020500000A17"
TAG = f"epc:hex:{EPC}"


def ago(seconds: int) -> dt.datetime:
    return timezone.now().replace(microsecond=0) - dt.timedelta(seconds=seconds)


def zebra(antenna: int, at: dt.datetime, *, reads: int = 4) -> bytes:
    """One Zebra IoT Connector batch: the lot's tag read ``reads`` times on ``antenna`` at ``at``."""
    event = {
        "type": "SIMPLE",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "data": {"idHex": EPC, "antenna": antenna, "peakRssi": -50, "reads": reads},
    }
    return json.dumps([event]).encode()


class Transfer:
    """A lot of glue dispatched from site A's stores to site B's dock on a transfer order;
    the pallet carries one RFID tag, known at both sites as the lot's."""

    def __init__(self, site_a: Site, site_b: Site) -> None:
        self.a, self.b = site_a, site_b
        self.stores = LocationFactory(site=site_a, kind="zone", code="A-STORES")
        self.dock_a = LocationFactory(site=site_a, kind=LocationKind.DOCK, code="A-DOCK")
        self.dock_b = LocationFactory(site=site_b, kind=LocationKind.DOCK, code="B-DOCK")
        self.shelf_b = LocationFactory(site=site_b, kind="zone", code="B-RACKS")
        self.glue = LotItemFactory(sku="GLUE")
        receive(self.glue, self.stores, 10, lot_code="G-1")
        self.lot = Lot.objects.get(code="G-1")
        self.order = services.transfer_order_create(
            source=self.stores, destination=self.dock_b, lines=[{"item": self.glue, "quantity": D(10), "lot": self.lot}]
        )
        services.transfer_order_dispatch(order=self.order)
        self.transit = virtual_location(site=site_a, kind=LocationKind.TRANSIT)
        for site in (site_a, site_b):
            TagAssignmentFactory(
                tag=TagFactory(site=site, tag_id=TAG), target_kind=TargetKind.LOT, lot=self.lot, code=""
            )
        # Site B: one fixed reader, antenna 1 at the dock, antenna 2 at the racks. Site A: one at its dock.
        self.reader_b, self.secret_b = device_with_key(site=site_b, device_id="FX-B")
        ReadPointFactory(device=self.reader_b, port=1, location=self.dock_b)
        ReadPointFactory(device=self.reader_b, port=2, location=self.shelf_b)
        self.reader_a, self.secret_a = device_with_key(site=site_a, device_id="FX-A")
        ReadPointFactory(device=self.reader_a, port=1, location=self.dock_a)

    def level(self, location: Location) -> D:
        row = StockLevel.objects.filter(item=self.glue, lot=self.lot, location=location).first()
        return row.on_hand if row else D(0)

    def post(self, secret: str, body: bytes, capture: Callable[..., Any], status: int = 202) -> ReaderUpload:
        """Post through the endpoint and run the processing the request enqueued after commit."""
        with capture(execute=True):
            response = post_upload(body, secret)
        assert response.status_code == status, response.content
        upload = ReaderUpload.objects.get(pk=response.json()["id"])
        assert upload.status == UploadStatus.PROCESSED, upload.reason
        return upload

    def snapshot(self) -> tuple[Any, ...]:
        self.order.refresh_from_db()
        line = self.order.lines.get()
        return (
            self.order.status,
            line.received,
            StockMove.objects.count(),
            sorted(StockLevel.objects.filter(item=self.glue).values_list("location__code", "on_hand")),
        )

    def still_travelling(self) -> None:
        self.order.refresh_from_db()
        assert self.order.status == TransferOrder.Status.IN_TRANSIT
        assert self.order.lines.get().received == 0
        assert self.level(self.transit) == 10
        assert self.level(self.dock_a) == 0 and self.level(self.dock_b) == 0 and self.level(self.shelf_b) == 0
        assert not StockMove.objects.filter(reference_type="device").exists()
        assert ledger_differences() == []


@pytest.fixture
def transfer(site_a: Site, site_b: Site) -> Transfer:
    return Transfer(site_a, site_b)


def test_a_read_at_the_destination_dock_receives_the_transfer_in_full(
    transfer: Transfer, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    assert transfer.level(transfer.transit) == 10 and transfer.level(transfer.stores) == 0
    moves_before = StockMove.objects.count()
    read_at = ago(60)
    body = zebra(1, read_at)
    upload = transfer.post(transfer.secret_b, body, django_capture_on_commit_callbacks)
    assert upload.result["transfer_receipts"] == 1, upload.result
    assert "transfers" not in upload.result  # the receipt is the only stock effect
    transfer.order.refresh_from_db()
    line = transfer.order.lines.get()
    assert transfer.order.status == TransferOrder.Status.RECEIVED
    assert (line.received, line.in_transit, line.lost) == (D(10), D(0), D(0))
    assert not line.discrepancies.exists()
    assert transfer.level(transfer.transit) == 0 and transfer.level(transfer.dock_b) == 10
    assert StockMove.objects.count() == moves_before + 1
    move = StockMove.objects.latest("pk")
    assert (move.source, move.destination, move.lot, move.quantity) == (
        transfer.transit,
        transfer.dock_b,
        transfer.lot,
        D(10),
    )
    assert (move.reference, move.reference_type) == (transfer.order.number, "transfer")
    # Dated when the tag was read at the dock, not when the upload was processed.
    assert read_at <= move.occurred_at < read_at + dt.timedelta(seconds=1)
    assert ledger_differences() == []

    # The reader retries the same batch: the same upload answers (200, a duplicate), nothing more is booked;
    # nor when the processing task is delivered again.
    before = transfer.snapshot()
    again = transfer.post(transfer.secret_b, body, django_capture_on_commit_callbacks, status=200)
    assert again.pk == upload.pk and again.attempts == 1
    device_services.reader_upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.attempts == 1 and upload.result["transfer_receipts"] == 1
    assert ReaderUpload.objects.filter(device=transfer.reader_b).count() == 1
    assert transfer.snapshot() == before
    assert ledger_differences() == []


def test_a_read_elsewhere_at_the_destination_does_not_receive_it(
    transfer: Transfer, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    upload = transfer.post(transfer.secret_b, zebra(2, ago(120)), django_capture_on_commit_callbacks)
    assert upload.result["moves"] == 1 and "transfer_receipts" not in upload.result, upload.result
    # The tag resolved to the lot and its effect ran: nothing of the lot in stock at the site to move.
    assert upload.result["moves_already_booked"] == 1 and "effect_errors" not in upload.result, upload.result
    transfer.still_travelling()
    # Then carried on to the dock: that read receives it, from in-transit (not from the racks).
    upload = transfer.post(transfer.secret_b, zebra(1, ago(60)), django_capture_on_commit_callbacks)
    assert upload.result["transfer_receipts"] == 1, upload.result
    transfer.order.refresh_from_db()
    assert transfer.order.status == TransferOrder.Status.RECEIVED
    assert transfer.level(transfer.transit) == 0 and transfer.level(transfer.dock_b) == 10
    assert ledger_differences() == []


def test_a_read_at_the_source_sites_dock_does_not_receive_it(
    transfer: Transfer, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    upload = transfer.post(transfer.secret_a, zebra(1, ago(60)), django_capture_on_commit_callbacks)
    assert upload.result["moves"] == 1 and "transfer_receipts" not in upload.result, upload.result
    # The tag resolved to the lot and its effect ran: nothing of the lot in stock at the site to move.
    assert upload.result["moves_already_booked"] == 1 and "effect_errors" not in upload.result, upload.result
    transfer.still_travelling()
