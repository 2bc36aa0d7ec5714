"""Step 3 of the pipeline: map read points to zones and tags to what they track.

Everything here is loaded in bulk, a handful of queries per upload whatever its
size: the site's read points (one query), zone settings (one), the upload's tags
(one, plus one insert and one select for tags never heard before) and their
current assignments (one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from django.db.models import Q
from epcpy.epc_schemes.sgtin import SGTIN

from devices.conf import ARBITRATION_DEFAULTS
from devices.models import (
    Device,
    ReadPoint,
    Tag,
    TagState,
    TargetKind,
    ZoneSetting,
    tag_kind_of,
)
from devices.pipeline import store
from devices.pipeline.arbitration import ZoneParams
from inventory.models import SerialUnit
from tracker.models import LocationKind

# Self-describing GS1 identities: the tag *is* the container or asset, no assignment needed.
IMPLICIT_TARGETS = {
    "urn:epc:id:sscc:": TargetKind.CONTAINER,  # pallets and cases
    "urn:epc:id:grai:": TargetKind.CONTAINER,  # returnable totes, crates
    "urn:epc:id:giai:": TargetKind.ASSET,
}


ZONE_SETTING_FIELDS = (
    "window_reads",
    "window_ms",
    "offset_db",
    "hold_off_ms",
    "decay_db_per_ms",
    "min_reads",
    "dwell_ms",
)


@dataclass(frozen=True, slots=True)
class Zone:
    id: int
    code: str
    kind: str

    @property
    def is_workstation(self) -> bool:
        return self.kind == LocationKind.WORKSTATION


class ReadPointMap:
    """Which zone a (read point string, antenna) of an upload from ``device`` covers.

    Lookup order: ``reported_as`` of the uploading device, ``reported_as`` of any
    device of the site, then the port of the device the read point names (its
    ``reader_name`` or ``device_id`` before ``:<antenna>``, for gateways that
    forward other readers' reports), then the uploading device's own port (or
    the whole device when the read carries no antenna).
    """

    def __init__(self, device: Device, read_points: Iterable[tuple]) -> None:
        """``read_points``: (device pk, device id, reader name, port, reported as,
        location pk, location code, location kind) of the site's active read points."""
        self.device = device
        self.zones: dict[int, Zone] = {}
        self._own_reported: dict[str, int] = {}
        self._site_reported: dict[str, int] = {}
        self._ports: dict[tuple[int, int | None], int] = {}
        self._device_by_name: dict[str, int] = {}
        self.overrides: dict[int, dict[str, Any]] = {}
        #: other devices whose reports the uploader forwarded (an edge agent for its readers)
        self.forwarded_for: set[int] = set()
        for dev_pk, dev_id, reader_name, port, reported_as, loc_pk, loc_code, loc_kind, *setting in read_points:
            self.zones[loc_pk] = Zone(loc_pk, loc_code, loc_kind)
            if setting:
                values = {k: v for k, v in zip(ZONE_SETTING_FIELDS, setting, strict=True) if v is not None}
                if values:
                    self.overrides[loc_pk] = values
            if reader_name:
                self._device_by_name.setdefault(reader_name, dev_pk)
            self._device_by_name.setdefault(dev_id, dev_pk)
            if reported_as:
                if dev_pk == device.pk:
                    self._own_reported[reported_as] = loc_pk
                self._site_reported.setdefault(reported_as, loc_pk)
            else:
                self._ports[(dev_pk, port)] = loc_pk
        self._cache: dict[tuple[str, int | None], int | None] = {}

    @classmethod
    def load(cls, *, device: Device) -> ReadPointMap:
        rows = (
            ReadPoint.objects.filter(device__site_id=device.site_id, active=True, device__active=True)
            .order_by("pk")
            .values_list(
                "device_id",
                "device__device_id",
                "device__reader_name",
                "port",
                "reported_as",
                "location_id",
                "location__code",
                "location__kind",
                # the zone's arbitration overrides, in the same query
                *(f"location__arbitration__{name}" for name in ZONE_SETTING_FIELDS),
            )
        )
        return cls(device, rows)

    def zone_for(self, read_point: str, antenna: int | None) -> int | None:
        key = (read_point, antenna)
        try:
            return self._cache[key]
        except KeyError:
            pass
        zone = self._own_reported.get(read_point) or self._site_reported.get(read_point)
        if zone is None and antenna is not None:
            suffix = f":{antenna}"
            reader = read_point[: -len(suffix)] if read_point.endswith(suffix) else ""
            other = self._device_by_name.get(reader) if reader else None
            if other is not None:
                zone = self._ports.get((other, antenna))
                if zone is not None and other != self.device.pk:
                    self.forwarded_for.add(other)
        if zone is None:
            zone = self._ports.get((self.device.pk, antenna))
        self._cache[key] = zone
        return zone


def zone_params(
    *, site_arbitration: dict[str, Any], zones: dict[int, Zone], overrides: dict[int, dict[str, Any]] | None = None
) -> dict[int, ZoneParams]:
    """Effective arbitration parameters per zone: site settings, then the zone's
    overrides (``ReadPointMap.overrides``; read from ``ZoneSetting`` when not given)."""
    base = {**ARBITRATION_DEFAULTS, **site_arbitration}
    if overrides is None:
        overrides = (
            {
                zs.location_id: {n: getattr(zs, n) for n in ZONE_SETTING_FIELDS if getattr(zs, n) is not None}
                for zs in ZoneSetting.objects.filter(location_id__in=list(zones))
            }
            if zones
            else {}
        )
    params = {}
    for zone_id, zone in zones.items():
        values = dict(base)
        if zone.is_workstation:
            values["dwell_ms"] = base["workstation_dwell_ms"]
        values.update(overrides.get(zone_id, {}))
        params[zone_id] = ZoneParams.from_settings(values)
    return params


def tags_load(*, site_id: int, tag_ids: dict[str, str | None]) -> dict[str, int]:
    """{tag_id: Tag pk} for every id in ``tag_ids`` (id -> EPC hex), creating the
    tags never heard before (concurrent creators do not collide)."""
    found = store.tag_pks(site_id=site_id, tag_ids=list(tag_ids))
    missing = [t for t in tag_ids if t not in found]
    if missing:
        Tag.objects.bulk_create(
            [Tag(site_id=site_id, tag_id=t, kind=tag_kind_of(t), epc_hex=tag_ids[t] or "") for t in missing],
            ignore_conflicts=True,
            batch_size=2000,
        )
        found.update(store.tag_pks(site_id=site_id, tag_ids=missing))
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """What a tag tracks right now."""

    kind: str
    serial_id: int | None = None
    lot_id: int | None = None
    work_order_id: int | None = None
    code: str = ""
    implicit: bool = False

    @property
    def label(self) -> str:
        ref = self.code or self.serial_id or self.lot_id or self.work_order_id
        return f"{self.kind}:{ref}"


@lru_cache(maxsize=65536)
def sgtin_parts(tag_id: str) -> tuple[str, str] | None:
    """(GTIN-14, serial) of an SGTIN pure-identity URI."""
    try:
        gtin = SGTIN(tag_id).gtin()
    except Exception:  # epcpy raises several types on URIs it cannot decode
        return None
    return gtin, unquote(tag_id.rsplit(".", 1)[-1])


# A unit in one of these states sits at its source site's in-transit or adjustment location,
# whichever site reads it.
UNSITED = (SerialUnit.Status.IN_TRANSIT, SerialUnit.Status.MISSING)


def targets_load(
    *, tags: dict[str, int], site_id: int, assignments: dict[int, tuple] | None = None
) -> dict[int, Target]:
    """{Tag pk: Target} for the tags with a current assignment, else a GS1 identity
    that names its object: an SGTIN of a serial unit this site knows (by item GTIN
    and serial), or of one that belongs to no site's stock now (travelling on a transfer
    order, or recorded missing in transit: inventory decides what its read means), an SSCC
    or GRAI (container), a GIAI (asset). The others are unknown.

    ``assignments`` ({tag pk: (kind, code, serial, lot, work order)}) when the
    caller loaded them already; otherwise they are read here.
    """
    if assignments is None:
        assignments = {row[0]: row[1:] for row in store.current_assignments(tag_pks=list(tags.values()))}
    targets: dict[int, Target] = {}
    for tag_pk, (kind, code, serial_id, lot_id, work_order_id) in assignments.items():
        targets[tag_pk] = Target(kind=kind, serial_id=serial_id, lot_id=lot_id, work_order_id=work_order_id, code=code)
    sgtins: dict[tuple[str, str], int] = {}
    for tag_id, pk in tags.items():
        if pk in targets or not tag_id.startswith("urn:epc:id:"):
            continue
        if tag_id.startswith("urn:epc:id:sgtin:"):
            parts = sgtin_parts(tag_id)
            if parts is not None:
                sgtins[parts] = pk
            continue
        for prefix, kind in IMPLICIT_TARGETS.items():
            if tag_id.startswith(prefix):
                targets[pk] = Target(kind=kind, code=tag_id, implicit=True)
                break
    if sgtins:
        units = SerialUnit.objects.filter(
            # A GTIN names one item, so (GTIN, serial) names one unit wherever it is read.
            Q(location__site_id=site_id) | Q(status__in=UNSITED),
            item__gtin__in={gtin for gtin, _ in sgtins},
            serial__in={serial for _, serial in sgtins},
        ).values_list("pk", "item__gtin", "serial")
        for unit_pk, gtin, serial in units:
            unit_tag = sgtins.get((gtin, serial))
            if unit_tag is not None:
                targets[unit_tag] = Target(kind=TargetKind.SERIAL, serial_id=unit_pk, implicit=True)
    return targets


def tags_with_states(
    *, site_id: int, tag_hex: dict[str, str | None]
) -> tuple[dict[str, int], dict[int, store.StateRow], dict[int, tuple] | None]:
    """The upload's tags (created when first heard), their states locked in pk
    order, and (on PostgreSQL, from the same query) their current assignments."""
    if store.is_pg():
        tags, states, assignments = store.load_tags_locked(site_id=site_id, tag_ids=list(tag_hex))
        missing = [t for t in tag_hex if t not in tags]
        if missing:
            _create_tags(site_id=site_id, tag_hex={t: tag_hex[t] for t in missing})
            more_tags, more_states, more_assignments = store.load_tags_locked(site_id=site_id, tag_ids=missing)
            tags.update(more_tags)
            states.update(more_states)
            assignments.update(more_assignments)
        return tags, states, assignments
    tags = tags_load(site_id=site_id, tag_ids=tag_hex)
    return tags, store.lock_states(site_id=site_id, tag_pks=list(tags.values())), None


def _create_tags(*, site_id: int, tag_hex: dict[str, str | None]) -> None:
    """Tag rows and their (empty) states for tags never heard before; concurrent
    creators do not collide (existing rows are left alone)."""
    Tag.objects.bulk_create(
        [Tag(site_id=site_id, tag_id=t, kind=tag_kind_of(t), epc_hex=h or "") for t, h in tag_hex.items()],
        ignore_conflicts=True,
        batch_size=2000,
    )
    pks = list(store.tag_pks(site_id=site_id, tag_ids=list(tag_hex)).values())
    TagState.objects.bulk_create(
        [TagState(tag_id=pk, site_id=site_id) for pk in pks], ignore_conflicts=True, batch_size=2000
    )
