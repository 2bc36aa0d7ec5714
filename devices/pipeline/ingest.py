"""The pipeline of one parsed upload, in bulk (called by ``reader_upload_process``
inside its transaction).

Order of work, and why it is fast: reads are aggregated in memory (dedupe), the
upload's tags, their states (locked, in pk order) and assignments are loaded in
a few queries, every tag is arbitrated in memory, the owning services are called
only for tags that actually moved, and the changed tag states are written back
with one upsert. No read becomes a row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from devices.conf import site_settings
from devices.excursions.services import excursion_open
from devices.models import Device, ReaderUpload
from devices.parsers import ParseResult, TagRead
from devices.pipeline import effects, machine_states, scans, store, telemetry
from devices.pipeline.arbitration import DUPLICATE, LATE, STALE, Arbiter, ZoneParams
from devices.pipeline.dedupe import aggregate, to_ms
from devices.pipeline.resolve import ReadPointMap, tags_with_states, targets_load, zone_params
from devices.pipeline.telemetry import from_ms
from tracker.realtime import broadcast
from tracker.services import alert_clear

MAX_EVENT_MOVES = 200  # moves listed in one tag.seen event; the count is always complete
MAX_WARNINGS_KEPT = 20


class _Params:
    """Zone -> ZoneParams with a default for zones without a read point row."""

    __slots__ = ("by_zone", "default")

    def __init__(self, by_zone: dict[int, ZoneParams], default: ZoneParams) -> None:
        self.by_zone = by_zone
        self.default = default

    def __call__(self, zone: int) -> ZoneParams:
        return self.by_zone.get(zone, self.default)


def ingest(*, upload: ReaderUpload, parsed: ParseResult) -> dict[str, Any]:
    """Apply a parsed upload; return the counters stored on it as ``result``."""
    device: Device = upload.device
    site = device.site
    conf = site_settings(site)
    now = timezone.now()
    counters: dict[str, Any] = {}
    received_ms = to_ms(upload.received_at)

    reads: list = parsed.reads
    scan_reads = [
        TagRead(tag_id=s.tag_id, read_point="", first_seen=s.scanned_at, last_seen=s.scanned_at)
        for s in parsed.scans
        # A scanned location (SGLN) says where the scanner is, not what it saw.
        if s.tag_id and not s.tag_id.startswith("urn:epc:id:sgln:")
    ]
    if scan_reads:
        reads = [*reads, *scan_reads]
    agg = aggregate(reads, bucket_ms=conf["bucket_ms"], future_limit_ms=received_ms + conf["future_tolerance_s"] * 1000)
    counters.update(
        reads=agg.reads,
        observations=len(agg.observations),
        quarantined=agg.quarantined,
        duplicates=agg.duplicates,
        scans=len(parsed.scans),
        epcis_events=len(parsed.epcis_events),
    )

    rpmap = ReadPointMap.load(device=device)
    params = _Params(
        zone_params(site_arbitration=conf["arbitration"], zones=rpmap.zones, overrides=rpmap.overrides),
        ZoneParams.from_settings(conf["arbitration"]),
    )

    # --- tags, their states and what they track (bulk) -------------------------
    tag_hex: dict[str, str | None] = {}
    for obs in agg.observations:
        if obs.tag_id not in tag_hex:
            tag_hex[obs.tag_id] = obs.epc_hex
    tags, states, assignments = tags_with_states(site_id=site.pk, tag_hex=tag_hex) if tag_hex else ({}, {}, {})
    targets = targets_load(tags=tags, site_id=site.pk, assignments=assignments) if tags else {}
    counters["tags"] = len(tags)

    # --- arbitration, per tag, in memory --------------------------------------
    moves: list[effects.TagMove] = []
    changed: list[store.StateRow] = []
    cleared_missing: list[str] = []
    unknown_seen: dict[int, tuple] = {}  # tag pk -> (seen at, reads, zone or None)
    late = stale = unmapped = duplicates = 0
    zones = rpmap.zones
    observations = agg.observations
    i, n = 0, len(observations)
    while i < n:
        tag_id = observations[i].tag_id
        j = i
        while j < n and observations[j].tag_id == tag_id:
            j += 1
        pk = tags[tag_id]
        state = states[pk]
        arb = Arbiter.load(state.arbitration, zone=state.location_id, since=state.since)
        target = targets.get(pk)
        last_t = None
        reads_n = 0
        zone_seen = None
        for obs in observations[i:j]:
            reads_n += obs.count
            if last_t is None or obs.t > last_t:
                last_t = obs.t
            zone = rpmap.zone_for(obs.read_point, obs.antenna)
            if zone is None:
                unmapped += obs.count
                continue
            zone_seen = zone
            status, move = arb.observe(zone, obs.t, obs.rssi, obs.count, params)
            if status == LATE:
                late += obs.count
            elif status == STALE:
                stale += obs.count
            elif status == DUPLICATE:
                duplicates += obs.count
            elif move is not None:
                moves.append(
                    effects.TagMove(
                        tag_pk=pk,
                        tag_id=tag_id,
                        from_zone=zones.get(move.from_zone) if move.from_zone else None,
                        to_zone=zones[move.to_zone],
                        at=from_ms(move.at),
                        target=target,
                    )
                )
        i = j
        if last_t is None:  # the loop above saw at least one observation of the tag
            raise RuntimeError(f"no observation of {tag_id} in its group")
        state.arbitration = arb.dump()
        state.location_id = arb.zone
        state.since = arb.since
        if state.last_seen is None or last_t > state.last_seen:
            state.last_seen = last_t
        if state.missing_since is not None:
            state.missing_since = None
            cleared_missing.append(tag_id)
        changed.append(state)
        if target is None:
            unknown_seen[pk] = (from_ms(last_t), reads_n, zone_seen)
    counters.update(late=late, stale=stale, unmapped=unmapped, moves=len(moves))
    counters["duplicates"] += duplicates

    # --- unknown tags: recorded for an admin to assign --------------------------
    store.upsert_unknown(site_id=site.pk, device_id=device.pk, seen=unknown_seen)
    counters["unknown_tags"] = len(unknown_seen)

    # --- business effects, only for actual moves --------------------------------
    ctx = effects.EffectContext(upload=upload, counters=counters)
    if moves:
        effects.apply_moves(moves=moves, ctx=ctx)
    if ctx.errors:
        counters["effect_error_details"] = ctx.errors

    # --- handheld action scans: the inventory service each names -----------------
    if parsed.scans:
        counters.update(scans.apply_scans(scans=parsed.scans, site_id=site.pk, reference=ctx.reference))

    store.write_states(states=changed, device_id=device.pk, now=now)
    for tag_id in cleared_missing:
        alert_clear(site=site.pk, kind="tag.missing", subject=f"tag:{tag_id}")

    # --- telemetry: health, samples, threshold rules ----------------------------
    changed_devices: dict[int, Device] = {}
    refs = {h.device_ref for h in parsed.health} | {s.sensor_id for s in parsed.samples}
    known = telemetry.devices_by_ref(site_id=site.pk, refs=refs) if refs else {}
    counters["health"] = telemetry.health_apply(
        health=parsed.health, uploader=device, devices=known, received_at=upload.received_at, changed=changed_devices
    )
    if parsed.samples:
        zone_of_sensor = {}
        for tag_id, pk in tags.items():
            zone_id = states[pk].location_id
            if zone_id is not None:
                zone_of_sensor[tag_id] = zone_id
        rows = telemetry.samples_store(
            site_id=site.pk, samples=parsed.samples, devices=known, zone_of_sensor=zone_of_sensor, upload_id=upload.pk
        )
        counters["samples"] = len(rows)
        counters.update(
            telemetry.rules_apply(
                site_id=site.pk,
                samples=rows,
                lots_in_zone=effects.lots_in_zone,
                on_holding_raise=excursion_open,
            )
        )
        counters.update(machine_states.machine_rules_apply(site_id=site.pk, samples=rows))
    if parsed.machine_states:
        counters.update(
            machine_states.machine_states_apply(
                site_id=site.pk, events=parsed.machine_states, device_ref=device.device_id
            )
        )

    _devices_save(
        uploader=device, changed=changed_devices, seen_at=upload.received_at, forwarded_for=rpmap.forwarded_for
    )

    if parsed.warnings:
        counters["warnings"] = parsed.warnings[:MAX_WARNINGS_KEPT]

    # --- broadcast after commit: one event per upload, not per read ------------
    if tags:
        broadcast(site_id=site.pk, type="tag.seen", data=_tag_seen_payload(upload, device, len(tags), moves))
    return counters


def _devices_save(
    *,
    uploader: Device,
    changed: dict[int, Device],
    seen_at: dt.datetime,
    forwarded_for: frozenset[int] | set[int] = frozenset(),
) -> None:
    """Last seen, battery and health of the uploader, of the devices reports named
    and of the readers whose reports a gateway forwarded."""
    forwarded = forwarded_for - set(changed) - {uploader.pk}
    if forwarded:
        for other in Device.objects.filter(pk__in=forwarded).order_by("pk"):
            other.last_seen_at = max(other.last_seen_at or seen_at, seen_at)
            changed[other.pk] = other
    fields = ["last_seen_at", "battery_pct", "battery_voltage", "firmware", "health", "silent_since"]
    uploader = changed.get(uploader.pk, uploader)
    if uploader.last_seen_at is None or seen_at > uploader.last_seen_at:
        uploader.last_seen_at = seen_at
    changed[uploader.pk] = uploader
    was_silent = []
    for device in changed.values():
        if device.silent_since is not None:
            was_silent.append(device)
            device.silent_since = None
    if len(changed) == 1:  # the usual case: one plain UPDATE
        Device.objects.filter(pk=uploader.pk).update(**{f: getattr(uploader, f) for f in fields})
    else:
        Device.objects.bulk_update(sorted(changed.values(), key=lambda d: d.pk), fields)
    for device in was_silent:
        alert_clear(site=device.site_id, kind="device.silent", subject=f"device:{device.device_id}")
    for device in changed.values():
        broadcast(site_id=device.site_id, type="device.status", data={"device": device_payload(device)})


def device_payload(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "kind": device.kind,
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
        "battery_pct": str(device.battery_pct) if device.battery_pct is not None else None,
        "battery_voltage": str(device.battery_voltage) if device.battery_voltage is not None else None,
        "status": "silent" if device.silent_since else ("active" if device.active else "inactive"),
    }


def _tag_seen_payload(upload: ReaderUpload, device: Device, tags_seen: int, moves: list) -> dict[str, Any]:
    return {
        "upload": upload.pk,
        "device": device.device_id,
        "tags_seen": tags_seen,
        "moves_total": len(moves),
        "moves": [
            {
                "tag": m.tag_id,
                "from": m.from_zone.code if m.from_zone else None,
                "to": m.to_zone.code,
                "at": m.at.isoformat(),
                "target": m.target.label if m.target else None,
            }
            for m in moves[:MAX_EVENT_MOVES]
        ],
    }
