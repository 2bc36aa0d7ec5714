"""A serial unit travelling on a transfer order, its tag read by fixed readers posting through
the upload endpoint with their device keys. At a dock of the destination site the read
receives that unit on its order (a partial receipt of the line), once: a retried upload, a
second read, or a second reader at the dock book nothing more. Read at the destination
site's racks or at a third site, the unit is not received and one in-transit sighting alert
is raised where it was read (cleared by the receipt or the close); read at the source site,
nothing happens. Both an explicitly assigned tag and an SGTIN-96 tag are recognised."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from devices import services as device_services
from devices.models import ReaderUpload, TargetKind, UploadStatus
from devices.tests.helpers import post_upload
from inventory import services
from inventory.models import SerialUnit, StockLevel, StockMove, TransferOrder
from inventory.selectors import ledger_differences
from tests.factories.devices import ReadPointFactory, TagAssignmentFactory, TagFactory, device_with_key
from tests.factories.inventory import SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory
from tracker.models import Alert, LocationKind, Site
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db

P1_EPC = "E28011606000020500000C01"  # an opaque tag, assigned to P1 at every site
P2_EPC = "303643E6B433C20000001267"  # SGTIN-96 urn:epc:id:sgtin:9501101.053000.4711, i.e. P2
GTIN = "09501101530003"


def ago(seconds: int) -> dt.datetime:
    return timezone.now().replace(microsecond=0) - dt.timedelta(seconds=seconds)


def zebra(antenna: int, at: dt.datetime, *epcs: str) -> bytes:
    """One Zebra IoT Connector batch: each tag read 4 times on ``antenna`` at ``at``."""
    events = [
        {
            "type": "SIMPLE",
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "data": {"idHex": epc, "antenna": antenna, "peakRssi": -50, "reads": 4},
        }
        for epc in epcs or (P1_EPC,)
    ]
    return json.dumps(events).encode()


class Shipment:
    """Three pumps (P1, P2 = serial 4711, P3) dispatched from site A's stores to site B's dock.
    Site B's reader: antenna 1 at its dock, 2 at its racks; a second reader at the same dock;
    one reader at site A's dock and one at site C's dock."""

    def __init__(self, site_a: Site, site_b: Site) -> None:
        self.a, self.b, self.c = site_a, site_b, SiteFactory(code="plant-c")
        self.stores = LocationFactory(site=site_a, kind="zone", code="A-STORES")
        self.dock_a = LocationFactory(site=site_a, kind=LocationKind.DOCK, code="A-DOCK")
        self.dock_b = LocationFactory(site=site_b, kind=LocationKind.DOCK, code="B-DOCK")
        self.racks_b = LocationFactory(site=site_b, kind="zone", code="B-RACKS")
        self.dock_c = LocationFactory(site=self.c, kind=LocationKind.DOCK, code="C-DOCK")
        self.pump = SerialItemFactory(sku="PUMP", gtin=GTIN)
        receive(self.pump, self.stores, 3, serials=["P1", "4711", "P3"])
        self.order = services.transfer_order_create(
            source=self.stores, destination=self.dock_b, lines=[{"item": self.pump, "quantity": D(3)}]
        )
        self.line = self.order.lines.get()
        services.transfer_order_dispatch(order=self.order, serials={self.line.pk: ["P1", "4711", "P3"]})
        self.transit = virtual_location(site=site_a, kind=LocationKind.TRANSIT)
        for site in (self.a, self.b, self.c):
            TagAssignmentFactory(
                tag=TagFactory(site=site, tag_id=f"epc:hex:{P1_EPC}"),
                target_kind=TargetKind.SERIAL,
                serial=self.unit("P1"),
                code="",
            )
        self.reader_b, self.secret_b = device_with_key(site=site_b, device_id="FX-B")
        ReadPointFactory(device=self.reader_b, port=1, location=self.dock_b)
        ReadPointFactory(device=self.reader_b, port=2, location=self.racks_b)
        self.reader_b2, self.secret_b2 = device_with_key(site=site_b, device_id="FX-B2")
        ReadPointFactory(device=self.reader_b2, port=1, location=self.dock_b)
        self.reader_a, self.secret_a = device_with_key(site=site_a, device_id="FX-A")
        ReadPointFactory(device=self.reader_a, port=1, location=self.dock_a)
        self.reader_c, self.secret_c = device_with_key(site=self.c, device_id="FX-C")
        ReadPointFactory(device=self.reader_c, port=1, location=self.dock_c)

    def unit(self, serial: str) -> SerialUnit:
        return SerialUnit.objects.select_related("location").get(item=self.pump, serial=serial)

    def where(self, serial: str) -> tuple[str, str]:
        unit = self.unit(serial)
        return unit.status, unit.location.code

    def level(self, location) -> D:
        row = StockLevel.objects.filter(item=self.pump, location=location).first()
        return row.on_hand if row else D(0)

    def states(self) -> list[tuple[str, str]]:
        self.line.refresh_from_db()
        return [(e["serial"], e["state"]) for e in self.line.serials]

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
        return (
            self.order.status,
            self.states(),
            StockMove.objects.count(),
            sorted(StockLevel.objects.filter(item=self.pump).values_list("location__code", "on_hand")),
            sorted(Alert.objects.values_list("kind", "subject", "occurrences", "cleared_at")),
        )

    def sightings(self) -> list[Alert]:
        return list(Alert.objects.filter(kind=services.IN_TRANSIT_SIGHTED_ALERT).order_by("pk"))

    def untouched(self) -> None:
        """Nothing received, nothing moved by a device."""
        self.order.refresh_from_db()
        assert self.order.status == TransferOrder.Status.IN_TRANSIT
        assert self.states() == [("P1", "in_transit"), ("4711", "in_transit"), ("P3", "in_transit")]
        assert self.level(self.transit) == 3
        assert self.where("P1") == ("in_transit", self.transit.code)
        assert not StockMove.objects.filter(reference_type="device").exists()
        assert ledger_differences() == []


@pytest.fixture
def shipment(site_a: Site, site_b: Site) -> Shipment:
    return Shipment(site_a, site_b)


def test_a_read_at_the_destination_dock_receives_that_unit_once(
    shipment: Shipment, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    moves_before = StockMove.objects.count()
    read_at = ago(120)
    body = zebra(1, read_at)
    upload = shipment.post(shipment.secret_b, body, django_capture_on_commit_callbacks)
    assert upload.result["transfer_receipts"] == 1, upload.result
    assert "transfers" not in upload.result and "effect_errors" not in upload.result, upload.result
    shipment.order.refresh_from_db()
    assert shipment.order.status == TransferOrder.Status.PARTIAL
    assert shipment.states() == [("P1", "received"), ("4711", "in_transit"), ("P3", "in_transit")]
    assert (shipment.line.received, shipment.line.in_transit) == (D(1), D(2))
    assert shipment.where("P1") == ("in_stock", "B-DOCK")
    assert shipment.level(shipment.transit) == 2 and shipment.level(shipment.dock_b) == 1
    assert StockMove.objects.count() == moves_before + 1
    move = StockMove.objects.latest("pk")
    assert (move.source, move.destination, move.serial, move.quantity) == (
        shipment.transit,
        shipment.dock_b,
        shipment.unit("P1"),
        D(1),
    )
    assert (move.reference, move.reference_type) == (shipment.order.number, "transfer")
    assert read_at <= move.occurred_at < read_at + dt.timedelta(seconds=1)  # when it was read
    assert not shipment.sightings()
    assert ledger_differences() == []

    # The reader retries the batch (a duplicate, 200), the task is delivered again: nothing more.
    before = shipment.snapshot()
    again = shipment.post(shipment.secret_b, body, django_capture_on_commit_callbacks, status=200)
    assert again.pk == upload.pk and again.attempts == 1
    device_services.reader_upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.attempts == 1 and upload.result["transfer_receipts"] == 1
    assert shipment.snapshot() == before
    # The tag read again at the dock, later, by the same reader and by the dock's second reader: nothing more.
    later = shipment.post(shipment.secret_b, zebra(1, ago(60)), django_capture_on_commit_callbacks)
    other = shipment.post(shipment.secret_b2, zebra(1, ago(50)), django_capture_on_commit_callbacks)
    for each in (later, other):
        assert "transfer_receipts" not in each.result and "effect_errors" not in each.result, each.result
    assert shipment.snapshot() == before

    # Put away to the racks afterwards: an ordinary move of stock at site B.
    moved = shipment.post(shipment.secret_b, zebra(2, ago(30)), django_capture_on_commit_callbacks)
    assert moved.result["transfers"] == 1, moved.result
    assert shipment.where("P1") == ("in_stock", "B-RACKS")
    assert ledger_differences() == []
    call_command("verify_ledger")


def test_an_sgtin_tag_read_at_the_dock_receives_its_unit_and_the_last_one_completes_the_order(
    shipment: Shipment, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """No assignment: the SGTIN names the unit though it is in no site's stock while it travels."""
    services.transfer_order_receive(order=shipment.order, lines=[{"line": shipment.line.pk, "serials": ["P3"]}])
    upload = shipment.post(shipment.secret_b, zebra(1, ago(60), P1_EPC, P2_EPC), django_capture_on_commit_callbacks)
    assert upload.result["transfer_receipts"] == 2, upload.result
    shipment.order.refresh_from_db()
    assert shipment.order.status == TransferOrder.Status.RECEIVED
    assert shipment.states() == [("P1", "received"), ("4711", "received"), ("P3", "received")]
    assert shipment.where("4711") == ("in_stock", "B-DOCK")
    assert shipment.level(shipment.transit) == 0 and shipment.level(shipment.dock_b) == 3
    assert ledger_differences() == []
    call_command("verify_ledger")


def test_a_read_at_the_destination_racks_raises_an_alert_and_the_dock_read_receives_and_clears_it(
    shipment: Shipment, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    upload = shipment.post(shipment.secret_b, zebra(2, ago(120)), django_capture_on_commit_callbacks)
    assert upload.result["in_transit_serials_sighted"] == 1, upload.result
    assert "transfer_receipts" not in upload.result and "transfers" not in upload.result, upload.result
    shipment.untouched()
    (alert,) = shipment.sightings()
    assert (alert.site_id, alert.subject, alert.cleared_at) == (shipment.b.pk, "serial:PUMP/P1", None)
    assert shipment.order.number in alert.message and "B-RACKS" in alert.message
    assert alert.data["transfer"] == shipment.order.number and alert.data["location"] == "B-RACKS"
    assert alert.data["reference"] == f"upload:{upload.pk}"

    # Carried back to the dock: that read receives it, from in-transit, and the alert clears.
    upload = shipment.post(shipment.secret_b, zebra(1, ago(60)), django_capture_on_commit_callbacks)
    assert upload.result["transfer_receipts"] == 1, upload.result
    assert shipment.where("P1") == ("in_stock", "B-DOCK")
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert ledger_differences() == []


def test_a_read_at_the_source_site_does_nothing(
    shipment: Shipment, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Dispatched units are carried past the source's readers onto the truck: no receipt, no alert."""
    before = shipment.snapshot()
    upload = shipment.post(shipment.secret_a, zebra(1, ago(60), P1_EPC, P2_EPC), django_capture_on_commit_callbacks)
    assert upload.result["moves_without_effect"] == 2, upload.result
    assert "transfer_receipts" not in upload.result and "in_transit_serials_sighted" not in upload.result
    shipment.untouched()
    assert shipment.snapshot() == before


def test_a_read_at_a_third_site_raises_an_alert_there_and_the_close_clears_it(
    shipment: Shipment, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    upload = shipment.post(shipment.secret_c, zebra(1, ago(120)), django_capture_on_commit_callbacks)
    assert upload.result["in_transit_serials_sighted"] == 1, upload.result
    # Read again where it lies: not a move, so no second effect; still one alert.
    upload = shipment.post(shipment.secret_c, zebra(1, ago(60)), django_capture_on_commit_callbacks)
    assert "in_transit_serials_sighted" not in upload.result, upload.result
    shipment.untouched()
    (alert,) = shipment.sightings()
    assert (alert.site_id, alert.occurrences, alert.cleared_at) == (shipment.c.pk, 1, None)
    assert "C-DOCK" in alert.message and "plant-b" in alert.message

    # The order closes without it: written off missing, the in-transit alert cleared; a read now is a missing sighting.
    services.transfer_order_close(order=shipment.order, reason="misrouted")
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert shipment.unit("P1").status == SerialUnit.Status.MISSING
    upload = shipment.post(shipment.secret_b, zebra(1, ago(30)), django_capture_on_commit_callbacks)
    assert upload.result["missing_serials_sighted"] == 1, upload.result
    assert "transfer_receipts" not in upload.result, upload.result
    assert Alert.objects.filter(kind=services.SIGHTED_ALERT, site=shipment.b, cleared_at__isnull=True).count() == 1
    assert not Alert.objects.filter(kind=services.IN_TRANSIT_SIGHTED_ALERT, cleared_at__isnull=True).exists()
    assert ledger_differences() == []
    call_command("verify_ledger")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_dock_readers_uploading_the_same_read_at_once_receive_it_once(site_a: Site, site_b: Site) -> None:
    """Both dock readers saw the unit arrive; their uploads are processed at the same moment."""
    shipment = Shipment(site_a, site_b)
    read_at = ago(60)
    uploads = []
    with mock.patch("devices.upload_queue.hand_off"):  # this test decides when the tasks run
        for reader in (shipment.reader_b, shipment.reader_b2):
            upload, created = device_services.reader_upload_receive(device=reader, body=zebra(1, read_at))
            assert created
            uploads.append(upload)
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def work(pk: int) -> None:
        try:
            barrier.wait()
            device_services.reader_upload_process(upload_id=pk)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(upload.pk,)) for upload in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    done = ReaderUpload.objects.filter(pk__in=[u.pk for u in uploads])
    assert set(done.values_list("status", flat=True)) == {UploadStatus.PROCESSED}
    assert sum(u.result.get("transfer_receipts", 0) for u in done) == 1, [u.result for u in done]
    assert not any(u.result.get("effect_errors") for u in done)
    assert StockMove.objects.filter(serial__serial="P1", destination=shipment.dock_b).count() == 1
    assert shipment.states() == [("P1", "received"), ("4711", "in_transit"), ("P3", "in_transit")]
    assert shipment.level(shipment.dock_b) == 1 and shipment.level(shipment.transit) == 2
    assert ledger_differences() == []
    call_command("verify_ledger")
