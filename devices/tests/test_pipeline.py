"""The pipeline's effects through the owning services, late and future reads,
per-upload broadcasts and a query count that does not grow with the upload."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import services
from devices.models import ReaderUpload, TagState, TargetKind, UnknownTag, UploadStatus
from inventory.models import Lot, StockLevel, StockMove
from tests.factories.devices import DeviceFactory, ReadPointFactory, TagAssignmentFactory, TagFactory, ZoneFactory
from tests.factories.inventory import LotItemFactory, receive
from tests.factories.wip import (
    OperationFactory,
    RoutingFactory,
    WorkOrderFactory,
    WorkstationFactory,
    WorkstationGroupFactory,
)
from tracker.models import Alert
from wip import services as wip_services
from wip.models import OperationRun

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
T0 = NOW - dt.timedelta(hours=1)


def epc(n: int) -> str:
    return f"E2000000000000000000{n:04X}"


def tag_id(n: int) -> str:
    return f"epc:hex:{epc(n)}"


def zebra(*events) -> bytes:
    """events: (tag number, antenna, seconds after T0, rssi, reads)."""
    out = []
    for n, antenna, seconds, rssi, reads in events:
        t = T0 + dt.timedelta(seconds=seconds)
        out.append(
            {
                "type": "SIMPLE",
                "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000",
                "data": {"idHex": epc(n), "antenna": antenna, "peakRssi": rssi, "reads": reads},
            }
        )
    return json.dumps(out).encode()


def process(device, body):
    upload, created = services.reader_upload_receive(device=device, body=body)
    assert created
    return services.reader_upload_process(upload_id=upload.pk)


@pytest.fixture
def floor(site_a):
    reader = DeviceFactory(site=site_a, device_id="FX-A")
    zones = {code: ZoneFactory(site=site_a, code=code) for code in ("Z-A", "Z-B", "Z-C")}
    for port, code in enumerate(("Z-A", "Z-B", "Z-C"), start=1):
        ReadPointFactory(device=reader, port=port, location=zones[code])
    return reader, zones


def zone_of(n):
    state = TagState.objects.filter(tag__tag_id=tag_id(n)).select_related("location").first()
    return state.location.code if state and state.location else None


# ------------------------------------------------------------------ work orders


def test_work_order_tote_arrives_in_the_stations_queue(site_a):
    group = WorkstationGroupFactory(site=site_a)
    ws1 = WorkstationFactory(site=site_a, code="WS-1", group=group)
    ws2 = WorkstationFactory(site=site_a, code="WS-2", group=group)
    routing = RoutingFactory(site=site_a)
    OperationFactory(routing=routing, sequence=10, group=group, workstation=None)
    order = WorkOrderFactory(routing=routing, number="WO-77")
    wip_services.work_order_release(work_order=order, at=T0 - dt.timedelta(minutes=5))
    reader = DeviceFactory(site=site_a, device_id="FX-WS")
    ReadPointFactory(device=reader, port=1, location=ws1.location)
    ReadPointFactory(device=reader, port=2, location=ws2.location)
    tag = TagFactory(site=site_a, tag_id=tag_id(1))
    TagAssignmentFactory(tag=tag, target_kind=TargetKind.WORK_ORDER, work_order=order, code="")
    # At WS-2 for three seconds: a workstation zone needs a 2 s dwell.
    upload = process(reader, zebra(*[(1, 2, s / 2, -50, 2) for s in range(7)]))
    assert upload.status == UploadStatus.PROCESSED, upload.reason
    assert upload.result["arrivals"] == 1
    run = OperationRun.objects.get(work_order=order, sequence=10)
    assert run.workstation == ws2 and run.status == "queued"
    # dated from when the tote settled (its first second of reads), not when the upload ran
    assert T0 <= run.queued_at < T0 + dt.timedelta(seconds=1)


def test_tote_only_passing_by_a_station_does_not_arrive(site_a):
    ws = WorkstationFactory(site=site_a, code="WS-9")
    routing = RoutingFactory(site=site_a)
    OperationFactory(routing=routing, sequence=10, workstation=ws)
    order = WorkOrderFactory(routing=routing, number="WO-78")
    reader = DeviceFactory(site=site_a)
    ReadPointFactory(device=reader, port=1, location=ws.location)
    TagAssignmentFactory(
        tag=TagFactory(site=site_a, tag_id=tag_id(2)), target_kind=TargetKind.WORK_ORDER, work_order=order, code=""
    )
    upload = process(reader, zebra((2, 1, 0, -50, 3), (2, 1, 0.5, -50, 3)))  # 0.5 s: shorter than the dwell
    assert upload.result["moves"] == 0 and "arrivals" not in upload.result


# ------------------------------------------------------------------ stock


def test_tagged_lot_settling_in_a_new_zone_is_transferred(floor, site_a):
    reader, zones = floor
    item = LotItemFactory(sku="RESIN")
    receive(item, zones["Z-A"], 40, lot_code="R-1")
    lot = Lot.objects.get(code="R-1")
    TagAssignmentFactory(tag=TagFactory(site=site_a, tag_id=tag_id(3)), target_kind=TargetKind.LOT, lot=lot, code="")
    process(reader, zebra((3, 1, 0, -50, 4)))  # first seen at Z-A, where the ledger has it: nothing to book
    assert not StockMove.objects.filter(reference_type="device").exists()
    upload = process(reader, zebra((3, 2, 20, -48, 4)))  # then settles at Z-B
    assert upload.result["transfers"] == 1
    level = StockLevel.objects.get(lot=lot, on_hand__gt=0)
    assert level.location == zones["Z-B"] and level.on_hand == Decimal(40)
    move = StockMove.objects.get(reference_type="device")
    assert (move.source, move.destination, move.quantity) == (zones["Z-A"], zones["Z-B"], Decimal(40))
    assert move.occurred_at == T0 + dt.timedelta(seconds=20)


def test_a_refused_effect_is_recorded_and_the_rest_applies(floor, site_a):
    reader, zones = floor
    item = LotItemFactory(sku="GLUE")
    receive(item, zones["Z-A"], 10, lot_code="HELD")
    receive(item, zones["Z-A"], 10, lot_code="FINE")
    held, fine = Lot.objects.get(code="HELD"), Lot.objects.get(code="FINE")
    from inventory import services as inventory_services

    inventory_services.lot_set_status(lot=held, status="on_hold", reason="QA")
    for n, lot in ((4, held), (5, fine)):
        TagAssignmentFactory(
            tag=TagFactory(site=site_a, tag_id=tag_id(n)), target_kind=TargetKind.LOT, lot=lot, code=""
        )
    upload = process(reader, zebra((4, 2, 0, -50, 3), (5, 2, 0, -50, 3)))
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["transfers"] == 1 and upload.result["effect_errors"] == 1
    (error,) = upload.result["effect_error_details"]
    assert error["tag"] == tag_id(4) and error["code"] == "lot_on_hold"
    assert zone_of(4) == "Z-B"  # where the tag is stays true; the ledger refused to follow
    assert StockLevel.objects.get(lot=fine, on_hand__gt=0).location == zones["Z-B"]


def test_unknown_tags_are_recorded_for_assignment(floor, site_a):
    reader, _ = floor
    process(reader, zebra((6, 1, 0, -50, 2), (6, 1, 1, -50, 1)))
    process(reader, zebra((6, 1, 5, -50, 4)))
    unknown = UnknownTag.objects.get()
    assert unknown.tag.tag_id == tag_id(6) and unknown.reads == 7
    assert unknown.last_location.code == "Z-A" and unknown.last_device == reader
    services.tag_assign(site=site_a, tag_id=tag_id(6), target_kind=TargetKind.ASSET, code="FORKLIFT-3")
    assert not UnknownTag.objects.exists()


# ------------------------------------------------------------------ time


def test_late_upload_never_undoes_a_committed_move(floor):
    reader, _ = floor
    process(reader, zebra((7, 1, 0, -50, 3)))
    process(reader, zebra((7, 2, 100, -45, 3)))
    assert zone_of(7) == "Z-B"
    upload = process(reader, zebra((7, 1, 60, -30, 20)))  # a reader's backlog, older than the move
    assert zone_of(7) == "Z-B"
    assert upload.result["late"] == 20 and upload.result["moves"] == 0


def test_out_of_order_reads_in_one_upload_are_ordered(floor):
    reader, _ = floor
    upload = process(reader, zebra((8, 2, 30, -50, 3), (8, 1, 0, -50, 3)))
    assert upload.result["moves"] == 2  # A first (t=0), then B (t=30)
    assert zone_of(8) == "Z-B"


def test_future_observations_are_quarantined(floor):
    reader, _ = floor
    # 10 minutes after the real now (T0 was fixed at import, which may be many minutes ago), and a normal one
    ahead = int((timezone.now() - T0).total_seconds()) + 600
    body = zebra((9, 1, ahead, -50, 5), (10, 1, 0, -50, 5))
    upload = process(reader, body)
    assert upload.result["quarantined"] == 5
    assert zone_of(9) is None and zone_of(10) == "Z-A"


# ------------------------------------------------------------------ health, broadcasts, queries


def test_upload_clears_silent_and_missing_alerts(floor, site_a):
    reader, zones = floor
    TagAssignmentFactory(tag=TagFactory(site=site_a, tag_id=tag_id(11)))
    process(reader, zebra((11, 1, 0, -50, 3)))
    reader.refresh_from_db()
    # From the reader's own last upload, not from NOW: NOW was fixed at import,
    # and on a loaded machine more than the silence limit may pass before this runs.
    later = reader.last_seen_at + dt.timedelta(minutes=30)
    services.devices_check_silent(now=later)
    services.tags_check_missing(now=later)
    assert Alert.objects.filter(kind="device.silent", cleared_at__isnull=True).count() == 1
    # the reader is silent too, so the tag is not reported missing
    assert not Alert.objects.filter(kind="tag.missing").exists()
    process(reader, zebra((11, 1, 10, -50, 3)))
    assert not Alert.objects.filter(cleared_at__isnull=True).exists()
    reader.refresh_from_db()
    assert reader.silent_since is None


def test_one_tag_seen_event_per_upload(floor, django_capture_on_commit_callbacks):
    reader, _ = floor
    upload, _ = services.reader_upload_receive(device=reader, body=zebra(*[(n, 1, 0, -50, 3) for n in range(50)]))
    with django_capture_on_commit_callbacks() as callbacks:
        services.reader_upload_process(upload_id=upload.pk)
    events = [cb.args[1] for cb in callbacks if getattr(cb, "args", None) and len(cb.args) == 2]
    tag_events = [e for e in events if e["type"] == "tag.seen"]
    assert len(tag_events) == 1
    assert tag_events[0]["tags_seen"] == 50 and tag_events[0]["moves_total"] == 50
    assert [e["type"] for e in events].count("device.status") == 1


def test_query_count_does_not_grow_with_the_upload(floor, site_a):
    reader, _ = floor

    def queries_for(n_tags, start):
        # first sight of the tags (creates them), then a steady-state upload measured
        process(reader, zebra(*[(start + n, 1, 0, -50, 3) for n in range(n_tags)]))
        upload, _ = services.reader_upload_receive(
            device=reader, body=zebra(*[(start + n, 1, 5, -51, 2) for n in range(n_tags)])
        )
        with CaptureQueriesContext(connection) as ctx:
            services.reader_upload_process(upload_id=upload.pk)
        return len(ctx.captured_queries)

    small = queries_for(3, 100)
    large = queries_for(300, 1000)
    assert small <= 16
    if connection.vendor == "postgresql":
        assert small == large, (small, large)
    else:  # the embedded default's ORM fallback writes in batches of the SQLite variable limit
        assert large - small <= 6, (small, large)


def test_rejected_upload_is_not_retried_and_a_processed_one_not_redone(floor):
    reader, _ = floor
    upload, _ = services.reader_upload_receive(device=reader, body=b"{not json")
    services.reader_upload_process(upload_id=upload.pk)
    services.reader_upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED and upload.attempts == 1
    good = process(reader, zebra((12, 1, 0, -50, 3)))
    result = dict(good.result)
    services.reader_upload_process(upload_id=good.pk)
    good.refresh_from_db()
    assert good.result == result and good.attempts == 1
    assert ReaderUpload.objects.count() == 2
