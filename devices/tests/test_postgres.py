"""On PostgreSQL: a task failing halfway (or its worker's connection dropping) and
retried ends exactly like one clean run; concurrent duplicates apply once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from devices import services
from devices.models import ReaderUpload, TagState, TargetKind, UnknownTag, UploadStatus
from devices.pipeline import store
from devices.tasks import process_reader_upload
from inventory.models import Lot, SerialUnit, StockLevel, StockMove
from tests.factories.devices import DeviceFactory, ReadPointFactory, TagAssignmentFactory, TagFactory, ZoneFactory
from tests.factories.inventory import LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import SiteFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


def _epc(prefix: int, n: int) -> str:
    return f"E2{prefix:02X}00000000000000000{n:03X}"


def _body(prefix: int) -> bytes:
    import json

    events = []
    # tags 0..4: lots, 5..9: serial units, 10..14: unassigned; all move from zone 1 to zone 2
    for n in range(15):
        for second, antenna in ((0, 1), (0.5, 1), (30, 2), (30.5, 2)):
            t = T0 + dt.timedelta(seconds=second)
            events.append(
                {
                    "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000",
                    "data": {"idHex": _epc(prefix, n), "antenna": antenna, "peakRssi": -50, "reads": 2},
                }
            )
    return json.dumps(events).encode()


def _receive(reader, body):
    """Store an upload without the after-commit enqueue (these tests commit for real,
    and Celery runs eagerly: the test decides when the task runs)."""
    with mock.patch("devices.upload_queue.hand_off"):
        upload, created = services.reader_upload_receive(device=reader, body=body)
    assert created
    return upload


def _world(prefix: int):
    site = SiteFactory(code=f"pg-{prefix}")
    reader = DeviceFactory(site=site, device_id=f"PG-FX-{prefix}")
    z1, z2 = ZoneFactory(site=site, code=f"P{prefix}-Z1"), ZoneFactory(site=site, code=f"P{prefix}-Z2")
    ReadPointFactory(device=reader, port=1, location=z1)
    ReadPointFactory(device=reader, port=2, location=z2)
    bulk = LotItemFactory(sku=f"P{prefix}-BULK")
    unit = SerialItemFactory(sku=f"P{prefix}-UNIT")
    receive(unit, z1, 5, serials=[f"S{n}" for n in range(5, 10)])
    for n in range(5):
        receive(bulk, z1, 10 + n, lot_code=f"L{n}")
        lot = Lot.objects.get(item=bulk, code=f"L{n}")
        TagAssignmentFactory(
            tag=TagFactory(site=site, tag_id=f"epc:hex:{_epc(prefix, n)}"), target_kind=TargetKind.LOT, lot=lot, code=""
        )
    for n in range(5, 10):
        TagAssignmentFactory(
            tag=TagFactory(site=site, tag_id=f"epc:hex:{_epc(prefix, n)}"),
            target_kind=TargetKind.SERIAL,
            serial=SerialUnit.objects.get(item=unit, serial=f"S{n}"),
            code="",
        )
    return site, reader


def _snapshot(site, prefix: int) -> dict:
    strip = f"P{prefix}-"
    marker = f"E2{prefix:02X}"
    return {
        "zones": sorted(
            (s.tag.tag_id.replace(marker, ""), s.location.code.replace(strip, ""), s.since)
            for s in TagState.objects.filter(site=site).select_related("tag", "location")
        ),
        "levels": sorted(
            (
                lv.item.sku.replace(strip, ""),
                lv.location.code.replace(strip, ""),
                lv.lot.code if lv.lot else "",
                lv.on_hand,
            )
            for lv in StockLevel.objects.filter(site=site, on_hand__gt=0).select_related("item", "location", "lot")
        ),
        "device_moves": StockMove.objects.filter(reference_type="device", source__site=site).count(),
        "serials": sorted(
            (u.serial, u.location.code.replace(strip, ""))
            for u in SerialUnit.objects.filter(item__sku=f"{strip}UNIT").select_related("location")
        ),
        "unknown": sorted((u.tag.tag_id.replace(marker, ""), u.reads) for u in UnknownTag.objects.filter(site=site)),
    }


def _clean_run():
    site, reader = _world(1)
    upload = _receive(reader, _body(1))
    assert services.reader_upload_process(upload_id=upload.pk).status == UploadStatus.PROCESSED
    return _snapshot(site, 1)


def test_failing_halfway_then_retrying_equals_one_clean_run():
    clean = _clean_run()
    assert clean["device_moves"] == 10  # five lots and five units moved to zone 2
    site, reader = _world(2)
    upload = _receive(reader, _body(2))
    before = _snapshot(site, 2)
    # Fail after the effects have written their stock moves, before the tag states are written.
    with mock.patch.object(store, "write_states", side_effect=RuntimeError("worker crashed")):
        result = process_reader_upload.apply(args=[upload.pk])
    assert result.failed()
    upload.refresh_from_db()
    assert upload.status == UploadStatus.QUEUED and upload.attempts == 1
    assert "worker crashed" in upload.reason
    assert _snapshot(site, 2) == before  # nothing of the failed attempt remains
    assert process_reader_upload.apply(args=[upload.pk]).get() == "processed"
    upload.refresh_from_db()
    assert upload.attempts == 2 and upload.reason == ""
    assert _snapshot(site, 2) == clean
    # and a third delivery of the same task changes nothing
    assert process_reader_upload.apply(args=[upload.pk]).get() == "processed"
    assert _snapshot(site, 2) == clean


def test_dropped_connection_is_retried_by_the_task():
    clean = _clean_run()
    site, reader = _world(3)
    upload = _receive(reader, _body(3))
    real = store.upsert_unknown
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with mock.patch.object(store, "upsert_unknown", side_effect=flaky):
        assert process_reader_upload.apply(args=[upload.pk]).get() == "processed"
    upload.refresh_from_db()
    assert upload.attempts == 2
    assert _snapshot(site, 3) == clean


def test_concurrent_duplicates_apply_once():
    site, reader = _world(4)
    upload = _receive(reader, _body(4))
    barrier = threading.Barrier(3)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.reader_upload_process(upload_id=upload.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ReaderUpload.objects.get(pk=upload.pk).status == UploadStatus.PROCESSED
    assert StockMove.objects.filter(reference_type="device", source__site=site).count() == 10
    assert UnknownTag.objects.filter(site=site).count() == 5
    assert sum(UnknownTag.objects.filter(site=site).values_list("reads", flat=True)) == 5 * 8


def test_concurrent_uploads_for_the_same_tags_serialize():
    site, reader = _world(5)
    bodies = [_body(5)]
    import json

    later = json.loads(bodies[0])
    for e in later:  # the same tags, one minute later, back at zone 1
        t = dt.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z") + dt.timedelta(seconds=60)
        e["timestamp"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"
        e["data"]["antenna"] = 1
    bodies.append(json.dumps(later).encode())
    uploads = [_receive(reader, b) for b in bodies]
    barrier = threading.Barrier(2)

    def worker(pk):
        barrier.wait()
        services.reader_upload_process(upload_id=pk)
        connection.close()

    threads = [threading.Thread(target=worker, args=(u.pk,)) for u in uploads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(ReaderUpload.objects.filter(pk__in=[u.pk for u in uploads]).values_list("status", flat=True)) == {
        UploadStatus.PROCESSED
    }
    # Whatever the order, every tag ends where its latest reads put it, and the ledger agrees.
    states = TagState.objects.filter(site=site).select_related("location")
    assert {s.location.code for s in states} == {"P5-Z1"}
    assert not StockLevel.objects.filter(site=site, location__code="P5-Z2", on_hand__gt=0).exists()
    assert sum(
        StockLevel.objects.filter(site=site, location__code="P5-Z1", item__sku="P5-BULK").values_list(
            "on_hand", flat=True
        )
    ) == Decimal(10 + 11 + 12 + 13 + 14)
