"""Machine states of an upload (OEE): ``machine_state`` events, and sensor
samples judged by ``MachineStateRule`` (current or vibration above a threshold
= running). Both end in ``wip.services.station_device_signal``: the device
source of the station's timeline (operator input outranks it, it outranks the
runs; see ``wip.timeline``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from devices.models import MachineStateRule, SensorSample
from devices.parsers import MachineState
from devices.pipeline.dedupe import to_ms
from devices.pipeline.telemetry import from_ms
from devices.pipeline.thresholds import CLEAR, RAISE, RuleSpec, RuleStatus, evaluate
from wip import services as wip_services
from wip.models import ReasonCode, Workstation


def machine_states_apply(*, site_id: int, events: Iterable[MachineState], device_ref: str) -> dict[str, int]:
    """Apply the events in time order; a station or reason code that is not the
    site's is skipped (counted, not an error: the gateway may know more
    machines than Shopfloor does). Three queries plus the service's."""
    events = sorted(events, key=lambda e: e.at)
    counters = {"machine_states": 0, "machine_states_unknown_station": 0}
    if not events:
        return counters
    stations = {
        ws.code: ws
        for ws in Workstation.objects.filter(site_id=site_id, code__in={e.station for e in events}).select_related(
            "location"
        )
    }
    codes = {e.reason for e in events if e.reason}
    reasons = {r.code: r for r in ReasonCode.objects.filter(site_id=site_id, code__in=codes)} if codes else {}
    for event in events:
        station = stations.get(event.station)
        if station is None:
            counters["machine_states_unknown_station"] += 1
            continue
        _, changed = wip_services.station_device_signal(
            workstation=station,
            state=event.state,
            at=event.at,
            device_ref=event.device_ref or device_ref,
            reason=reasons.get(event.reason or ""),
        )
        counters["machine_states"] += int(changed)
    return counters


def machine_rules_apply(*, site_id: int, samples: list[SensorSample]) -> dict[str, int]:
    """Judge the samples against the site's machine-state rules (hysteresis and
    duration as a threshold rule: ``wip``'s running from when the value crossed
    ``running_at``, stopped when it fell to ``stopped_at``)."""
    counters = {"machine_signals": 0}
    keys = {(s.sensor_id, s.metric) for s in samples}
    if not keys:
        return counters
    rules = list(
        MachineStateRule.objects.select_for_update(of=("self",))
        .filter(site_id=site_id, active=True, sensor_id__in={k[0] for k in keys}, metric__in={k[1] for k in keys})
        .select_related("workstation", "workstation__location")
        .order_by("pk")
    )
    if not rules:
        return counters
    series: dict[tuple[str, str], list[tuple[int, Decimal]]] = defaultdict(list)
    for s in samples:
        series[(s.sensor_id, s.metric)].append((to_ms(s.observed_at), Decimal(s.value)))
    for rule in rules:
        points = sorted(series.get((rule.sensor_id, rule.metric), ()))
        if not points:
            continue
        spec = RuleSpec(
            above=True,
            create=Decimal(rule.running_at),
            clear=Decimal(rule.stopped_at),
            duration_ms=rule.duration_s * 1000,
        )
        status = RuleStatus(
            breaching_since=rule.breaching_since,
            alerting=rule.running,
            last_value=rule.last_value,
            last_sample_at=rule.last_sample_at,
        )
        for transition in evaluate(spec, status, points):
            if transition.kind == RAISE:
                state, at = "running", from_ms(transition.since if transition.since is not None else transition.at)
            elif transition.kind == CLEAR:
                state, at = rule.below_means, from_ms(transition.at)
            else:
                continue
            _, changed = wip_services.station_device_signal(
                workstation=rule.workstation, state=state, at=at, device_ref=rule.sensor_id
            )
            counters["machine_signals"] += int(changed)
        rule.running = status.alerting
        rule.breaching_since = status.breaching_since
        rule.last_value = status.last_value
        rule.last_sample_at = status.last_sample_at
        rule.save(update_fields=["running", "breaching_since", "last_value", "last_sample_at"])
    return counters
