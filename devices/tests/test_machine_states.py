"""Machine states for OEE: the ``machine_state`` upload format (parser and the
upload endpoint through to the station's timeline) and machine-state rules on a
current sensor (running above a threshold, stopped below, with hysteresis)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from devices.models import MachineStateRule, SensorSample
from devices.parsers import ParseError, parse
from devices.pipeline.machine_states import machine_rules_apply
from devices.tests.helpers import post_upload
from tests.factories.devices import device_with_key
from tests.factories.wip import WorkstationFactory
from wip.models import ReasonCode, StationState

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def event(state: str, minutes: int, **extra) -> dict:
    at = (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"type": "machine_state", "station": "WELD-1", "state": state, "at": at, **extra}


def test_parser_reads_one_event_an_array_or_ndjson_and_names_what_is_wrong():
    one = parse("machine_state", json.dumps(event("stopped", 0, reason="jam")).encode())
    assert [(m.station, m.state, m.at, m.reason) for m in one.machine_states] == [("WELD-1", "stopped", T0, "jam")]
    ndjson = "\n".join(json.dumps(e) for e in (event("running", 1), {"type": "heartbeat"}, event("idle", 2)))
    got = parse("machine_state", ndjson.encode(), content_type="application/x-ndjson")
    assert [m.state for m in got.machine_states] == ["running", "idle"]
    assert got.warnings == ["line 2: skipped an event of type 'heartbeat'"]
    with pytest.raises(ParseError, match=r"\[1\]: state: 'melting'"):
        parse("machine_state", json.dumps([event("running", 0), event("melting", 1)]).encode())
    with pytest.raises(ParseError, match="no UTC offset"):
        parse("machine_state", json.dumps(event("running", 0) | {"at": "2026-11-23T08:00:00"}).encode())


@pytest.mark.django_db
def test_an_uploaded_stop_without_reason_asks_the_operator_and_one_with_a_reason_is_coded(
    site_a, django_capture_on_commit_callbacks
):
    station = WorkstationFactory(site=site_a, code="WELD-1")
    ReasonCode.objects.create(site=site_a, code="jam", name="Jam")
    _, secret = device_with_key(site=site_a, device_id="WELD-PLC", upload_format="machine_state")
    body = [event("running", 0), event("stopped", 10), event("running", 25), event("stopped", 40, reason="jam")]
    body.append(event("running", 1, station="NOT-HERE"))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(json.dumps(body).encode(), secret)
    assert response.status_code == 202, response.content
    rows = list(StationState.objects.filter(workstation=station).order_by("started_at"))
    assert [(r.state, r.reason_needed, r.device_ref) for r in rows] == [
        ("running", False, "WELD-PLC"),
        ("unplanned_stop", True, "WELD-PLC"),
        ("running", False, "WELD-PLC"),
        ("unplanned_stop", False, "WELD-PLC"),
    ]
    assert rows[1].ended_at == T0 + dt.timedelta(minutes=25) and rows[-1].ended_at is None
    # Older events arriving late (another upload): history only, nothing changes.
    with django_capture_on_commit_callbacks(execute=True):
        again = post_upload(json.dumps(body[:2]).encode(), secret)
    assert again.status_code == 202
    assert StationState.objects.filter(workstation=station).count() == 4


@pytest.mark.django_db
def test_a_current_sensor_rule_says_running_from_when_it_crossed_and_stopped_below(site_a):
    station = WorkstationFactory(site=site_a, code="PRESS-1")
    MachineStateRule.objects.create(
        site=site_a,
        name="press current",
        workstation=station,
        sensor_id="CT-1",
        metric="current",
        running_at=Decimal(5),
        stopped_at=Decimal(2),
        duration_s=60,
    )

    def samples(*pairs: tuple[int, float]) -> list[SensorSample]:
        return [
            SensorSample(
                site=site_a,
                sensor_id="CT-1",
                metric="current",
                value=Decimal(str(v)),
                observed_at=T0 + dt.timedelta(seconds=s),
            )
            for s, v in pairs
        ]

    # 6 A, a dip to 0.5 A (below the stop threshold: the duration restarts), 6 A from 40 s still
    # there at 100 s: running since 40 s. 3 A is between the thresholds: still running.
    assert (
        machine_rules_apply(site_id=site_a.pk, samples=samples((0, 6), (30, 0.5), (40, 6), (100, 6)))["machine_signals"]
        == 1
    )
    assert machine_rules_apply(site_id=site_a.pk, samples=samples((200, 3)))["machine_signals"] == 0
    machine_rules_apply(site_id=site_a.pk, samples=samples((300, 1.5)))
    rows = list(StationState.objects.filter(workstation=station).order_by("started_at"))
    assert [(r.state, r.started_at, r.ended_at) for r in rows] == [
        ("running", T0 + dt.timedelta(seconds=40), T0 + dt.timedelta(seconds=300)),
        ("unplanned_stop", T0 + dt.timedelta(seconds=300), None),
    ]
    rule = MachineStateRule.objects.get()
    assert rule.running is False and rule.last_value == Decimal("1.5")
