"""Threshold rules: create, duration, clear (hysteresis) and re-raise; one alert per
rule and subject; device, zone and lots-in-zone scopes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from devices.models import DeviceKind, SensorSample, ThresholdRuleState
from devices.pipeline.telemetry import rules_apply
from devices.pipeline.thresholds import CLEAR, RAISE, UPDATE, RuleSpec, RuleStatus, evaluate
from tests.factories.devices import DeviceFactory, ThresholdRuleFactory, ZoneFactory
from tests.factories.inventory import LotItemFactory, receive
from tracker.models import Alert

D = Decimal
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
ABOVE = RuleSpec(above=True, create=D(8), clear=D(6), duration_ms=60_000)


def series(*pairs):
    return [(s * 1000, D(str(v))) for s, v in pairs]


def kinds(transitions):
    return [t.kind for t in transitions]


# ------------------------------------------------------------------ pure


def test_raise_only_after_the_duration():
    status = RuleStatus()
    assert evaluate(ABOVE, status, series((0, 9), (30, 9.5))) == []
    out = evaluate(ABOVE, status, series((60, 9.1)))
    assert kinds(out) == [RAISE] and out[0].since == 0 and out[0].at == 60_000


def test_a_dip_below_create_restarts_the_duration():
    status = RuleStatus()
    assert evaluate(ABOVE, status, series((0, 9), (40, 7), (70, 9), (120, 9))) == []
    assert kinds(evaluate(ABOVE, status, series((130, 9)))) == [RAISE]


def test_clear_needs_the_clear_threshold_hysteresis():
    status = RuleStatus()
    evaluate(ABOVE, status, series((0, 9), (60, 9)))
    assert kinds(evaluate(ABOVE, status, series((70, 7)))) == [UPDATE]  # 7 is below 8 but above 6
    assert kinds(evaluate(ABOVE, status, series((80, 6)))) == [CLEAR]
    assert not status.alerting


def test_re_raise_after_clear_takes_the_duration_again():
    status = RuleStatus()
    out = evaluate(ABOVE, status, series((0, 9), (60, 9), (70, 5), (80, 9), (100, 9), (140, 9)))
    assert kinds(out) == [RAISE, CLEAR, RAISE]
    assert out[2].since == 80_000


def test_updates_are_coalesced_and_old_samples_ignored():
    status = RuleStatus()
    evaluate(ABOVE, status, series((0, 9), (60, 9)))
    out = evaluate(ABOVE, status, series((70, 9.2), (80, 9.4), (90, 9.9)))
    assert kinds(out) == [UPDATE] and out[0].value == D("9.9")
    assert evaluate(ABOVE, status, series((50, 1))) == []  # older than the last sample: history


def test_below_rules_mirror():
    spec = RuleSpec(above=False, create=D(10), clear=D(15), duration_ms=0)
    status = RuleStatus()
    assert kinds(evaluate(spec, status, series((0, 9), (10, 12), (20, 15)))) == [RAISE, UPDATE, CLEAR]


# ------------------------------------------------------------------ with the database


def _sample(site, device, value, at, metric="temperature", location=None):
    row = SensorSample(
        site=site,
        device=device,
        sensor_id=device.device_id,
        metric=metric,
        value=D(str(value)),
        observed_at=at,
        location=location or device.location,
    )
    row.save()
    return row


@pytest.fixture
def cold(site_a):
    zone = ZoneFactory(site=site_a, code="COLD-1")
    s1 = DeviceFactory(site=site_a, device_id="TEMP-1", kind=DeviceKind.SENSOR, upload_format="", location=zone)
    s2 = DeviceFactory(site=site_a, device_id="TEMP-2", kind=DeviceKind.SENSOR, upload_format="", location=zone)
    return zone, s1, s2


@pytest.mark.django_db
def test_device_rule_raises_after_duration_clears_and_re_raises(site_a, cold):
    zone, s1, _ = cold
    rule = ThresholdRuleFactory(site=site_a, scope="device", device=s1, location=None, duration_s=60)
    kind = rule.alert_kind

    def push(*pairs):
        rows = [_sample(site_a, s1, v, T0 + dt.timedelta(seconds=s)) for s, v in pairs]
        return rules_apply(site_id=site_a.pk, samples=rows)

    assert push((0, 9), (30, 9))["alerts_raised"] == 0
    assert not Alert.objects.filter(kind=kind).exists()
    assert push((61, 9.5))["alerts_raised"] == 1
    alert = Alert.objects.get(kind=kind)
    assert alert.subject == "device:TEMP-1" and alert.raised_at == T0 + dt.timedelta(seconds=61)
    assert push((90, 10))["alerts_updated"] == 1  # updated, not duplicated
    assert Alert.objects.filter(kind=kind).count() == 1
    assert Alert.objects.get(kind=kind).occurrences == 2
    assert push((120, 7))["alerts_cleared"] == 0  # hysteresis: 7 is not <= 6
    assert push((150, 6))["alerts_cleared"] == 1
    assert Alert.objects.get(kind=kind).cleared_at is not None
    push((200, 9))
    assert Alert.objects.filter(kind=kind, cleared_at__isnull=True).count() == 0  # duration again
    assert push((260, 9))["alerts_raised"] == 1
    assert Alert.objects.filter(kind=kind).count() == 2  # a new alert after the cleared one
    assert Alert.objects.filter(kind=kind, cleared_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_zone_rule_one_alert_while_any_sensor_breaches(site_a, cold):
    zone, s1, s2 = cold
    rule = ThresholdRuleFactory(site=site_a, scope="zone", location=zone)
    rows = [_sample(site_a, s1, 9, T0), _sample(site_a, s2, 4, T0 + dt.timedelta(seconds=1))]
    assert rules_apply(site_id=site_a.pk, samples=rows)["alerts_raised"] == 1
    alert = Alert.objects.get(kind=rule.alert_kind, cleared_at__isnull=True)
    assert alert.subject == "zone:COLD-1"
    # the second sensor warms up too, then the first cools: still open
    rules_apply(
        site_id=site_a.pk,
        samples=[
            _sample(site_a, s2, 9, T0 + dt.timedelta(seconds=10)),
            _sample(site_a, s1, 5, T0 + dt.timedelta(seconds=11)),
        ],
    )
    assert Alert.objects.filter(kind=rule.alert_kind, cleared_at__isnull=True).count() == 1
    # the last one cools: cleared
    out = rules_apply(site_id=site_a.pk, samples=[_sample(site_a, s2, 5, T0 + dt.timedelta(seconds=20))])
    assert out["alerts_cleared"] == 1
    assert not Alert.objects.filter(kind=rule.alert_kind, cleared_at__isnull=True).exists()
    assert ThresholdRuleState.objects.filter(rule=rule).count() == 2  # one state per sensor


@pytest.mark.django_db
def test_zone_rule_ignores_sensors_elsewhere(site_a, cold):
    zone, s1, _ = cold
    other = ZoneFactory(site=site_a, code="WARM-1")
    ThresholdRuleFactory(site=site_a, scope="zone", location=other)
    assert rules_apply(site_id=site_a.pk, samples=[_sample(site_a, s1, 30, T0)])["alerts_raised"] == 0


@pytest.mark.django_db
def test_lots_in_zone_rule_alerts_each_lot(site_a, cold):
    from devices.pipeline.effects import lots_in_zone

    zone, s1, _ = cold
    bin_ = ZoneFactory(site=site_a, code="COLD-1-B1", parent=zone, kind="bin")
    item = LotItemFactory(sku="MILK")
    receive(item, bin_, 5, lot_code="M-1")
    receive(item, zone, 5, lot_code="M-2")
    rule = ThresholdRuleFactory(site=site_a, scope="zone_lots", location=zone)
    out = rules_apply(site_id=site_a.pk, samples=[_sample(site_a, s1, 9, T0)], lots_in_zone=lots_in_zone)
    assert out["alerts_raised"] == 2
    assert set(Alert.objects.filter(kind=rule.alert_kind).values_list("subject", flat=True)) == {
        "lot:MILK/M-1",
        "lot:MILK/M-2",
    }
