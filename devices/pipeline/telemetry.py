"""Telemetry of an upload: device health, sensor samples and threshold rules.

Samples are stored by their own time (a gateway's backlog keeps its times) and
once per (sensor, metric, time). Rules are checked per subject in sample-time
order; the alert itself is tracker's (``alert_raise`` / ``alert_clear``: one open
alert per rule and subject, updated rather than duplicated).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Q

from devices.models import Device, RuleDirection, RuleScope, SensorSample, ThresholdRule, ThresholdRuleState
from devices.pipeline.dedupe import to_ms
from devices.pipeline.thresholds import CLEAR, RAISE, RuleSpec, RuleStatus, evaluate
from tracker.models import Location
from tracker.services import alert_clear, alert_raise

#: Resolves the lots stored in a zone for ``zone_lots`` rules: (location) -> [(lot code, item SKU)].
LotsInZone = Callable[[Location], list[tuple[str, str]]]
#: Called when the alert of a rule that holds its zone's contents is raised (or re-raised):
#: (rule, alert, breach start, raised at, the reading) -> None. The pipeline passes
#: ``devices.excursions.services.excursion_open``; this module stays free of stock effects.
OnHoldingRaise = Callable[..., Any]


def from_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


def devices_by_ref(*, site_id: int, refs: Iterable[str]) -> dict[str, Device]:
    """Devices of the site named by ``refs`` (device id or the name it reports), one query."""
    refs = {r for r in refs if r}
    if not refs:
        return {}
    found: dict[str, Device] = {}
    for device in Device.objects.filter(Q(device_id__in=refs) | Q(reader_name__in=refs), site_id=site_id):
        if device.device_id in refs:
            found[device.device_id] = device
        if device.reader_name in refs:
            found.setdefault(device.reader_name, device)
    return found


def health_apply(
    *,
    health: Iterable,
    uploader: Device,
    devices: dict[str, Device],
    received_at: dt.datetime,
    changed: dict[int, Device],
) -> int:
    """Battery, firmware and health figures onto the devices they name (the uploader
    when the report names no device). Returns the number of reports applied."""
    applied = 0
    for report in sorted(health, key=lambda h: h.observed_at):
        device = devices.get(report.device_ref) if report.device_ref else uploader
        if device is None:
            continue
        applied += 1
        if report.battery_pct is not None:
            device.battery_pct = report.battery_pct
        if report.battery_voltage is not None:
            device.battery_voltage = report.battery_voltage
        if report.firmware:
            device.firmware = report.firmware[:100]
        if report.extra:
            device.health = {**(device.health or {}), **dict(report.extra), "at": report.observed_at.isoformat()}
        if device.pk != uploader.pk:
            seen = min(report.observed_at, received_at)
            if device.last_seen_at is None or seen > device.last_seen_at:
                device.last_seen_at = seen
        changed[device.pk] = device
    return applied


def samples_store(
    *, site_id: int, samples: list, devices: dict[str, Device], zone_of_sensor: dict[str, int], upload_id: int
) -> list[SensorSample]:
    """Store the samples (each once); return the rows with device and location set."""
    rows = []
    for s in samples:
        device = devices.get(s.sensor_id)
        location_id = zone_of_sensor.get(s.sensor_id) or (device.location_id if device is not None else None)
        rows.append(
            SensorSample(
                site_id=site_id,
                device=device,
                sensor_id=s.sensor_id[:255],
                metric=s.metric[:64],
                value=s.value,
                unit=(s.unit or "")[:16],
                observed_at=s.observed_at,
                location_id=location_id,
                upload_id=upload_id,
            )
        )
    if rows:
        SensorSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return rows


def _subjects(
    rule: ThresholdRule, sample: SensorSample, zone_paths: dict[int, str], lots_in_zone: LotsInZone | None
) -> list[str]:
    """The alert subjects ``sample`` speaks about for ``rule`` (none if it does not apply)."""
    if rule.scope == RuleScope.DEVICE:
        if sample.device_id != rule.device_id or sample.device is None:
            return []
        return [f"device:{sample.device.device_id}"]
    if sample.location_id is None or rule.location_id is None:
        return []
    rule_path = zone_paths.get(rule.location_id)
    sample_path = zone_paths.get(sample.location_id)
    if rule_path is None or sample_path is None or not sample_path.startswith(rule_path):
        return []
    zone = rule.location
    if zone is None:  # location_id is set, so this only narrows the type
        return []
    if rule.scope == RuleScope.ZONE:
        return [f"zone:{zone.code}"]
    if lots_in_zone is None:
        return []
    return [f"lot:{sku}/{code}" for code, sku in lots_in_zone(zone)]


def rules_apply(
    *,
    site_id: int,
    samples: list[SensorSample],
    lots_in_zone: LotsInZone | None = None,
    on_holding_raise: OnHoldingRaise | None = None,
) -> dict[str, int]:
    """Check the site's active rules against ``samples``; return counters.

    Each sensor keeps its own state per rule and subject (duration and
    hysteresis are judged on one sensor's series, so a cold sensor never clears
    what a warm one in the same zone raised); the subject's alert is open while
    any of its sensors alerts: raised by the first, cleared by the last.
    """
    counters = {"alerts_raised": 0, "alerts_updated": 0, "alerts_cleared": 0}
    metrics = {s.metric for s in samples}
    if not metrics:
        return counters
    rules = list(
        ThresholdRule.objects.filter(site_id=site_id, active=True, metric__in=metrics)
        .select_related("location", "device")
        .order_by("pk")
    )
    if not rules:
        return counters
    location_ids = {r.location_id for r in rules if r.location_id} | {s.location_id for s in samples if s.location_id}
    zone_paths = dict(Location.objects.filter(pk__in=location_ids).values_list("pk", "path")) if location_ids else {}
    # (rule pk, alert subject) -> sensor -> [(ms, value)]
    series: dict[tuple[int, str], dict[str, list[tuple[int, Decimal]]]] = defaultdict(lambda: defaultdict(list))
    by_rule = {r.pk: r for r in rules}
    subject_cache: dict[tuple[int, int | None], list[str]] = {}
    for sample in samples:
        for rule in rules:
            if rule.metric != sample.metric:
                continue
            if rule.scope == RuleScope.ZONE_LOTS:
                key = (rule.pk, sample.location_id)
                if key not in subject_cache:
                    subject_cache[key] = _subjects(rule, sample, zone_paths, lots_in_zone)
                subjects = subject_cache[key]
            else:
                subjects = _subjects(rule, sample, zone_paths, lots_in_zone)
            for subject in subjects:
                series[(rule.pk, subject)][sample.sensor_id].append((to_ms(sample.observed_at), Decimal(sample.value)))
    if not series:
        return counters
    states: dict[tuple[int, str], ThresholdRuleState] = {
        (st.rule_id, st.subject): st
        for st in ThresholdRuleState.objects.filter(rule_id__in={k[0] for k in series})
        .order_by("pk")
        .select_for_update()
    }
    to_write: list[ThresholdRuleState] = []
    for rule_pk, subject in sorted(series):
        rule = by_rule[rule_pk]
        spec = RuleSpec(
            above=rule.direction == RuleDirection.ABOVE,
            create=Decimal(rule.create_threshold),
            clear=Decimal(rule.clear_threshold),
            duration_ms=rule.duration_s * 1000,
        )
        prefix = f"{subject}|"
        alerting = {
            key[1][len(prefix) :]
            for key, st in states.items()
            if key[0] == rule_pk and key[1].startswith(prefix) and st.alerting
        }
        events: list[tuple[int, str, Any]] = []
        for sensor, values in series[(rule_pk, subject)].items():
            state_subject = f"{prefix}{sensor}"[:200]
            state = states.get((rule_pk, state_subject)) or ThresholdRuleState(rule=rule, subject=state_subject)
            status = RuleStatus(
                breaching_since=to_ms(state.breaching_since) if state.breaching_since else None,
                alerting=state.alerting,
                last_value=state.last_value,
                last_sample_at=to_ms(state.last_sample_at) if state.last_sample_at else None,
            )
            for tr in evaluate(spec, status, sorted(values)):
                events.append((tr.at, sensor, tr))
            state.breaching_since = from_ms(status.breaching_since) if status.breaching_since is not None else None
            state.alerting = status.alerting
            state.last_value = status.last_value
            state.last_sample_at = from_ms(status.last_sample_at) if status.last_sample_at is not None else None
            to_write.append(state)
        events.sort(key=lambda e: (e[0], e[1]))
        pending_update = None
        for _at, sensor, tr in events:
            if tr.kind == CLEAR:
                alerting.discard(sensor)
                if alerting:
                    continue
                pending_update = None
                if alert_clear(site=site_id, kind=rule.alert_kind, subject=subject, at=from_ms(tr.at)) is not None:
                    counters["alerts_cleared"] += 1
            elif tr.kind == RAISE and not alerting:
                alerting.add(sensor)
                pending_update = None
                alert, created = alert_raise(
                    site=site_id,
                    kind=rule.alert_kind,
                    subject=subject,
                    message=_message(rule, subject, tr.value),
                    severity=rule.severity,
                    data=_data(rule, tr, sensor),
                    at=from_ms(tr.at),
                )
                counters["alerts_raised" if created else "alerts_updated"] += 1
                if rule.hold_contents and on_holding_raise is not None and rule.scope != RuleScope.DEVICE:
                    on_holding_raise(
                        rule=rule,
                        alert=alert,
                        started_at=from_ms(tr.since if tr.since is not None else tr.at),
                        raised_at=from_ms(tr.at),
                        reading={"at": from_ms(tr.at).isoformat(), "value": str(tr.value), "sensor": sensor},
                    )
                    counters["excursion_holds"] = counters.get("excursion_holds", 0) + 1
            else:
                alerting.add(sensor)
                pending_update = (sensor, tr)  # coalesced: one update per subject and upload
        if pending_update is not None and alerting:
            sensor, tr = pending_update
            alert_raise(
                site=site_id,
                kind=rule.alert_kind,
                subject=subject,
                message=_message(rule, subject, tr.value),
                severity=rule.severity,
                data=_data(rule, tr, sensor),
                at=from_ms(tr.at),
            )
            counters["alerts_updated"] += 1
    ThresholdRuleState.objects.bulk_create(
        to_write,
        update_conflicts=True,
        unique_fields=["rule", "subject"],
        update_fields=["breaching_since", "alerting", "last_value", "last_sample_at"],
    )
    return counters


def _message(rule: ThresholdRule, subject: str, value: Decimal) -> str:
    word = "above" if rule.direction == RuleDirection.ABOVE else "below"
    return f"{rule.name}: {rule.metric} {value.normalize()} is {word} {rule.create_threshold.normalize()} ({subject})"


def _data(rule: ThresholdRule, tr: Any, sensor: str) -> dict[str, Any]:
    data = {
        "rule": rule.pk,
        "metric": rule.metric,
        "value": str(tr.value),
        "sensor": sensor,
        "at": from_ms(tr.at).isoformat(),
    }
    if tr.since is not None:
        data["breaching_since"] = from_ms(tr.since).isoformat()
    return data
