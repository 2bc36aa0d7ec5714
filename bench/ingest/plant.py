"""The synthetic plant of the ingestion benchmark, and its reader uploads.

Fifty zones in a row (the first five are workstations of one group), ten Zebra
FX readers with five antennas each (one antenna per zone: 50 read points),
2,500 tags: totes (containers), serial units and lots in stock, work-order
totes and unassigned tags. Every simulated second each tag is read one to
three times by its zone's antenna and, sometimes, weakly by the neighbouring
antenna; a few tags move to an adjacent zone. Each upload is one reader's
batch of a few seconds in the Zebra IoT Connector format (one read per event,
so events and reads are the same count).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from devices.models import (
    Device,
    DeviceKind,
    ReaderUpload,
    ReadPoint,
    Tag,
    TagAssignment,
    TagKind,
    TagState,
    TargetKind,
)
from devices.upload_keys import body_hash
from inventory import services as stock
from inventory.models import Item, Lot, SerialUnit
from tracker import services as tracker_services
from tracker.models import Location
from wip import services as wip_services
from wip.models import Operation, Routing, WorkstationGroup

SITE_CODE = "bench-ingest"
N_ZONES = 50
N_READERS = 10
ANTENNAS = 5
STATIONS = 5


@dataclass
class PlantSpec:
    tags: int = 2500
    uploads: int = 300
    seconds_per_upload: int = 3
    move_rate: float = 0.004  # share of tags that move to an adjacent zone per second
    seed: int = 7

    @property
    def mix(self) -> dict[str, int]:
        """How many tags of each kind (containers take the rest)."""
        n = self.tags
        return {"serial": n * 6 // 25, "lot": n * 4 // 25, "work_order": n // 25, "unknown": n * 4 // 25}


@dataclass
class World:
    zones: list[int]  # location pks, index = zone number
    tags: list[str]  # canonical tag ids
    epcs: list[str]  # hex EPC per tag
    zone_of: list[int]  # zone number per tag
    readers: list[str] = field(default_factory=list)


def _epc(n: int) -> str:
    # 96-bit, not GS1-encoded (header 0xE2): an opaque id the pipeline keeps as epc:hex:...
    return f"E2B0{n:020X}"


@transaction.atomic
def seed(spec: PlantSpec) -> World:
    """Build the plant through the services (stock, work orders) and bulk rows (tags)."""
    rng = random.Random(spec.seed)  # noqa: S311 - reproducible synthetic data, not secrets
    site = tracker_services.site_create(code=SITE_CODE, name="Bench plant", settings={})
    area = tracker_services.location_create(site=site, code="BP", name="Bench floor", kind="area")
    group = WorkstationGroup.objects.create(site=site, code="bench-assy", name="Assembly")
    zones: list[Location] = []
    for z in range(N_ZONES):
        kind = "workstation" if z < STATIONS else "zone"
        loc = tracker_services.location_create(site=site, code=f"BP-Z{z:02d}", name=f"Zone {z}", kind=kind, parent=area)
        if kind == "workstation":
            wip_services.workstation_create(location=loc, group=group)
        zones.append(loc)
    readers = []
    for r in range(N_READERS):
        device = Device.objects.create(
            site=site, device_id=f"BP-FX-{r:02d}", kind=DeviceKind.FIXED_READER, upload_format="zebra_iotc"
        )
        readers.append(device)
        for a in range(ANTENNAS):
            ReadPoint.objects.create(device=device, port=a + 1, location=zones[r * ANTENNAS + a])

    mix = spec.mix
    n = spec.tags
    kinds = (
        ["serial"] * mix["serial"]
        + ["lot"] * mix["lot"]
        + ["work_order"] * mix["work_order"]
        + ["unknown"] * mix["unknown"]
    )
    kinds += ["container"] * (n - len(kinds))
    rng.shuffle(kinds)
    # Work-order totes start near the stations (zones 0-4), so some arrive at one.
    zone_of = [rng.randrange(2 * STATIONS) if k == "work_order" else rng.randrange(N_ZONES) for k in kinds]
    epcs = [_epc(i) for i in range(n)]
    tag_ids = [f"epc:hex:{e}" for e in epcs]
    tags = Tag.objects.bulk_create(
        [Tag(site=site, tag_id=t, kind=TagKind.RFID, epc_hex=e) for t, e in zip(tag_ids, epcs, strict=True)]
    )

    serial_item = Item.objects.create(sku="BENCH-UNIT", name="Bench unit", tracking=Item.Tracking.SERIAL)
    lot_item = Item.objects.create(sku="BENCH-BULK", name="Bench bulk", tracking=Item.Tracking.LOT)
    product = Item.objects.create(sku="BENCH-FG", name="Bench product", kind=Item.Kind.FINISHED_GOOD)
    routing = Routing.objects.create(site=site, code="BENCH-RT", item=product)
    Operation.objects.create(
        routing=routing, sequence=10, name="Assemble", group=group, run_minutes_per_unit=Decimal("1")
    )
    serials_by_zone: dict[int, list[str]] = {}
    lots_by_zone: dict[int, list[str]] = {}
    assignments = []
    valid_from = timezone.now() - dt.timedelta(days=30)
    wo_count = 0
    for i, kind in enumerate(kinds):
        if kind == "serial":
            serials_by_zone.setdefault(zone_of[i], []).append(f"S{i:06d}")
        elif kind == "lot":
            lots_by_zone.setdefault(zone_of[i], []).append(f"L{i:06d}")
        elif kind == "container":
            assignments.append(
                TagAssignment(
                    tag=tags[i], target_kind=TargetKind.CONTAINER, code=f"TOTE-{i:06d}", valid_from=valid_from
                )
            )
        elif kind == "work_order":
            wo_count += 1
            wo = wip_services.work_order_create(
                site=site, number=f"BWO-{i:06d}", item=product, quantity=Decimal(1), routing=routing
            )
            # released before the simulated day starts, so the totes' arrivals are news
            wip_services.work_order_release(work_order=wo, at=timezone.now() - dt.timedelta(days=2))
            assignments.append(
                TagAssignment(tag=tags[i], target_kind=TargetKind.WORK_ORDER, work_order=wo, valid_from=valid_from)
            )
    for z, serials in serials_by_zone.items():
        stock.stock_receive(item=serial_item, quantity=Decimal(len(serials)), location=zones[z], serials=serials)
    for z, codes in lots_by_zone.items():
        for code in codes:
            stock.stock_receive(item=lot_item, quantity=Decimal(10), location=zones[z], lot_code=code)
    units = {u.serial: u.pk for u in SerialUnit.objects.filter(item=serial_item)}
    lots = {lot.code: lot.pk for lot in Lot.objects.filter(item=lot_item)}
    for i, kind in enumerate(kinds):
        if kind == "serial":
            assignments.append(
                TagAssignment(
                    tag=tags[i], target_kind=TargetKind.SERIAL, serial_id=units[f"S{i:06d}"], valid_from=valid_from
                )
            )
        elif kind == "lot":
            assignments.append(
                TagAssignment(tag=tags[i], target_kind=TargetKind.LOT, lot_id=lots[f"L{i:06d}"], valid_from=valid_from)
            )
    TagAssignment.objects.bulk_create(assignments, batch_size=2000)
    # Every tag starts settled in its zone, as in a plant that has been running.
    since = timezone.now() - dt.timedelta(days=1, hours=1)
    TagState.objects.bulk_create(
        [
            TagState(tag=t, site=site, location=zones[zone_of[i]], since=since, last_seen_at=since)
            for i, t in enumerate(tags)
        ],
        batch_size=2000,
    )
    return World(
        zones=[z.pk for z in zones], tags=tag_ids, epcs=epcs, zone_of=zone_of, readers=[d.device_id for d in readers]
    )


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def generate_uploads(world: World, spec: PlantSpec, *, start: dt.datetime) -> list[tuple[str, bytes]]:
    """[(reader device id, body)] in the order a worker would receive them."""
    rng = random.Random(spec.seed + 1)  # noqa: S311 - reproducible synthetic data
    zone_of = list(world.zone_of)
    by_zone: list[set[int]] = [set() for _ in range(N_ZONES)]
    for i, z in enumerate(zone_of):
        by_zone[z].add(i)
    rounds = -(-spec.uploads // N_READERS)
    out: list[tuple[str, bytes]] = []
    event_num = 0
    second = 0
    for _round in range(rounds):
        batches: list[list[dict]] = [[] for _ in range(N_READERS)]
        for _s in range(spec.seconds_per_upload):
            base = start + dt.timedelta(seconds=second)
            second += 1
            # a few tags move to an adjacent zone this second
            for i in rng.sample(range(len(zone_of)), k=max(1, int(len(zone_of) * spec.move_rate))):
                z = zone_of[i]
                nz = min(N_ZONES - 1, max(0, z + rng.choice((-1, 1))))
                if nz != z:
                    by_zone[z].discard(i)
                    by_zone[nz].add(i)
                    zone_of[i] = nz
            for z in range(N_ZONES):
                reader, antenna = divmod(z, ANTENNAS)
                batch = batches[reader]
                neighbour = z + 1 if antenna < ANTENNAS - 1 else None
                for i in by_zone[z]:
                    epc = world.epcs[i]
                    for _k in range(rng.randint(1, 3)):
                        event_num += 1
                        t = base + dt.timedelta(milliseconds=rng.randrange(1000))
                        batch.append(
                            {
                                "type": "SIMPLE",
                                "timestamp": _stamp(t),
                                "data": {
                                    "eventNum": event_num,
                                    "format": "epc",
                                    "idHex": epc,
                                    "antenna": antenna + 1,
                                    "peakRssi": -50 - rng.randint(0, 6),
                                    "reads": 1,
                                },
                            }
                        )
                    if neighbour is not None and rng.random() < 0.3:
                        event_num += 1
                        t = base + dt.timedelta(milliseconds=rng.randrange(1000))
                        batch.append(
                            {
                                "type": "SIMPLE",
                                "timestamp": _stamp(t),
                                "data": {
                                    "eventNum": event_num,
                                    "format": "epc",
                                    "idHex": epc,
                                    "antenna": antenna + 2,
                                    "peakRssi": -66 - rng.randint(0, 6),
                                    "reads": 1,
                                },
                            }
                        )
        for reader, batch in enumerate(batches):
            if len(out) < spec.uploads:
                batch.sort(key=lambda e: e["timestamp"])
                out.append((world.readers[reader], json.dumps(batch, separators=(",", ":")).encode()))
    return out


def store_uploads(uploads: list[tuple[str, bytes]], *, received_at: dt.datetime) -> list[int]:
    """Store the bodies as queued uploads (what the endpoint does), without enqueuing."""
    devices = {d.device_id: d for d in Device.objects.filter(device_id__in={u[0] for u in uploads})}
    rows = [
        ReaderUpload(
            site_id=devices[device_id].site_id,
            device=devices[device_id],
            upload_key=f"sha256:{body_hash(body)}",
            format="zebra_iotc",
            body=body,
            content_type="application/json",
            size=len(body),
            received_at=received_at + dt.timedelta(milliseconds=n),
        )
        for n, (device_id, body) in enumerate(uploads)
    ]
    return [u.pk for u in ReaderUpload.objects.bulk_create(rows, batch_size=50)]
