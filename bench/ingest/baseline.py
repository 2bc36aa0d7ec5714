"""The benchmark's baseline: the same effects, written the straightforward way.

One upload in one transaction, like the pipeline, but read by read with the
ORM: look up the read point, get or create the tag and its state (locked),
arbitrate that one read (the same pure arbitration), save the state, look up
the assignment, record an unknown tag, and call the same owning services when
the tag moved. No aggregation, no bulk loading, no bulk writes. This is the
code a first version would have; it exists only to measure the pipeline
against (never imported by the app).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from devices.conf import site_settings
from devices.models import (
    ReaderUpload,
    ReadPoint,
    Tag,
    TagAssignment,
    TagState,
    UnknownTag,
    UploadStatus,
    ZoneSetting,
    tag_kind_of,
)
from devices.parsers import ParseError, parse
from devices.pipeline.arbitration import Arbiter, ZoneParams
from devices.pipeline.dedupe import to_ms
from inventory import services as inventory_services
from inventory.models import Item, SerialUnit, StockLevel, StockMove
from tracker.errors import DomainError
from tracker.models import Location, LocationKind
from wip import services as wip_services
from wip.models import Workstation


def _params(location, site_arbitration: dict) -> ZoneParams:
    values = dict(site_arbitration)
    if location.kind == LocationKind.WORKSTATION:
        values["dwell_ms"] = values["workstation_dwell_ms"]
    override = ZoneSetting.objects.filter(location=location).first()
    if override is not None:
        for name in (
            "window_reads",
            "window_ms",
            "offset_db",
            "hold_off_ms",
            "decay_db_per_ms",
            "min_reads",
            "dwell_ms",
        ):
            if getattr(override, name) is not None:
                values[name] = getattr(override, name)
    return ZoneParams.from_settings(values)


def _from_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


def _effect(assignment: TagAssignment, location, at: dt.datetime, reference: str) -> None:
    if assignment.target_kind == "work_order":
        station = Workstation.objects.filter(location=location).first()
        if station is not None:
            wip_services.operation_arrive(workstation=station, work_order=assignment.work_order, occurred_at=at)
    elif assignment.target_kind == "serial":
        unit = SerialUnit.objects.select_related("item", "location").get(pk=assignment.serial_id)
        if unit.status == SerialUnit.Status.IN_STOCK and not unit.location.path.startswith(location.path):
            inventory_services.stock_transfer(
                item=unit.item,
                quantity=Decimal(1),
                source=unit.location,
                destination=location,
                serials=[unit],
                reference=reference,
                reference_type=StockMove.ReferenceType.DEVICE,
                occurred_at=at,
            )
    elif assignment.target_kind == "lot":
        lot = assignment.lot
        if lot.item.tracking == Item.Tracking.SERIAL:
            return
        for level in StockLevel.objects.filter(lot=lot, location__is_virtual=False, on_hand__gt=0).select_related(
            "location"
        ):
            if not level.location.path.startswith(location.path):
                inventory_services.stock_transfer(
                    item=lot.item,
                    quantity=level.on_hand,
                    source=level.location,
                    destination=location,
                    lot=lot,
                    reference=reference,
                    reference_type=StockMove.ReferenceType.DEVICE,
                    occurred_at=at,
                )


@transaction.atomic
def process_naive(upload_id: int) -> dict[str, int]:
    upload = ReaderUpload.objects.select_for_update(of=("self",)).select_related("device__site").get(pk=upload_id)
    if upload.status != UploadStatus.QUEUED:
        return {}
    device = upload.device
    site = device.site
    conf = site_settings(site)
    try:
        parsed = parse(upload.format, bytes(upload.body))
    except ParseError as exc:
        upload.status, upload.reason = UploadStatus.REJECTED, exc.reason
        upload.save()
        return {}
    counters = {"reads": 0, "moves": 0}
    params_cache: dict[int, ZoneParams] = {}  # per upload, to be fair to the baseline

    def zone_params(zone_id: int) -> ZoneParams:
        if zone_id not in params_cache:
            params_cache[zone_id] = _params(Location.objects.get(pk=zone_id), conf["arbitration"])
        return params_cache[zone_id]

    for read in sorted(parsed.reads, key=lambda r: r.last_seen):
        counters["reads"] += read.count
        read_point = ReadPoint.objects.filter(device=device, port=read.antenna).select_related("location").first()
        tag, _ = Tag.objects.get_or_create(
            site=site, tag_id=read.tag_id, defaults={"kind": tag_kind_of(read.tag_id), "epc_hex": read.epc_hex or ""}
        )
        state, _ = TagState.objects.select_for_update().get_or_create(tag=tag, defaults={"site": site})
        t = to_ms(read.last_seen)
        if read_point is not None:
            location = read_point.location
            arb = Arbiter.load(
                state.arbitration, zone=state.location_id, since=to_ms(state.since) if state.since else None
            )
            _, move = arb.observe(location.pk, t, read.rssi, read.count, zone_params)
            state.arbitration = arb.dump()
            state.location_id = arb.zone
            state.since = _from_ms(arb.since) if arb.since is not None else None
        else:
            move = None
        if state.last_seen_at is None or read.last_seen > state.last_seen_at:
            state.last_seen_at = read.last_seen
        state.last_device = device
        state.updated_at = timezone.now()
        state.save()
        assignment = (
            TagAssignment.objects.filter(tag=tag, valid_to__isnull=True)
            .select_related("lot__item", "work_order")
            .first()
        )
        if assignment is None:
            unknown, created = UnknownTag.objects.get_or_create(
                tag=tag,
                defaults={
                    "site": site,
                    "first_seen_at": read.last_seen,
                    "last_seen_at": read.last_seen,
                    "reads": read.count,
                    "last_device": device,
                },
            )
            if not created:
                UnknownTag.objects.filter(pk=unknown.pk).update(
                    reads=F("reads") + read.count, last_seen_at=read.last_seen
                )
        elif move is not None:
            counters["moves"] += 1
            try:
                with transaction.atomic():
                    _effect(assignment, read_point.location, _from_ms(move.at), f"upload:{upload.pk}")
            except DomainError:
                pass
    device.last_seen_at = upload.received_at
    device.save()
    upload.status = UploadStatus.PROCESSED
    upload.result = counters
    upload.processed_at = timezone.now()
    upload.save()
    return counters
