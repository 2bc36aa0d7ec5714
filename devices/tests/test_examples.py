"""Every example upload, posted through the endpoint with its device's key, produces
the expected observations and effects; three posts take effect once; a malformed
variant is rejected with a reason and leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devices.models import ReaderUpload, SensorSample, Tag, TagState, UnknownTag, UploadStatus
from devices.tests.helpers import (
    EXAMPLES,
    OPAQUE,
    PALLET,
    TOTE,
    UNIT_4711,
    UNIT_20007,
    UNIT_100001,
    example,
    post_upload,
)
from inventory.models import SerialUnit, StockMove
from tests.factories.devices import ThresholdRuleFactory
from tracker.models import Alert

pytestmark = pytest.mark.django_db


def post_processed(story, fmt, capture, body=None, **kwargs):
    with capture(execute=True):
        response = post_upload(example(fmt) if body is None else body, story.secrets[fmt], **kwargs)
    assert response.status_code in (200, 202), response.content
    upload = ReaderUpload.objects.get(pk=response.json()["id"])
    return response, upload


def zone_of(tag_id):
    state = TagState.objects.filter(tag__tag_id=tag_id).select_related("location").first()
    return state.location.code if state and state.location else None


def device_moves():
    return StockMove.objects.filter(reference_type="device")


def test_zebra_moves_tote_and_transfers_the_unit(story, django_capture_on_commit_callbacks):
    response, upload = post_processed(story, "zebra_iotc", django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert upload.status == UploadStatus.PROCESSED, upload.reason
    assert upload.result["reads"] == 15 and upload.result["tags"] == 3 and upload.result["moves"] == 2
    # The tote was read 7 times at -52 dBm on antenna 1 and twice at -67 on antenna 2.
    assert zone_of(TOTE) == "WS030-IN"
    assert zone_of(UNIT_4711) == "WS030-IN"
    assert zone_of(OPAQUE) is None  # one read: not enough to place it
    unit = SerialUnit.objects.get(serial="4711")
    assert unit.location.code == "WS030-IN"
    (move,) = device_moves()
    assert move.source.code == "STORES" and move.destination.code == "WS030-IN"
    assert move.reference == f"upload:{upload.pk}"
    assert upload.result["transfers"] == 1
    assert list(UnknownTag.objects.values_list("tag__tag_id", flat=True)) == [OPAQUE]
    story.devices["zebra_iotc"].refresh_from_db()
    assert story.devices["zebra_iotc"].last_seen_at == upload.received_at


def test_impinj_iot_single_reads_are_observed_but_not_settled(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "impinj_iot", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["reads"] == 3 and upload.result["moves"] == 0
    state = TagState.objects.get(tag__tag_id=UNIT_100001)
    assert state.last_seen_at is not None and state.location is None  # min_reads is 2
    assert not device_moves().exists()
    assert UnknownTag.objects.count() == 0  # both units are known serials, the pallet is an SSCC


def test_speedway_with_single_read_zones(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "impinj_speedway", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    # QC01 and DOCK2 accept a single read (ZoneSetting.min_reads = 1).
    assert zone_of("urn:epc:id:giai:9501101.70012") == "QC01"
    assert zone_of(TOTE) == "QC01"
    assert zone_of(UNIT_20007) == "DOCK2"
    assert list(UnknownTag.objects.values_list("tag__tag_id", flat=True)) == [UNIT_20007]


def test_llrp_from_edge_agent_uses_the_forwarded_readers_antennas(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "llrp_json", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.upload_key == "key:SpeedwayR-10-EF-25:40117:1763458980100000"
    assert zone_of(TOTE) == "WS030-IN"
    assert zone_of(UNIT_20007) == "WS030-OUT"
    assert set(UnknownTag.objects.values_list("tag__tag_id", flat=True)) == {
        UNIT_20007,
        "epc:hex:E2801160600002050000000A1B2C3D4E",
    }
    # the forwarded reader counts as heard, like the agent that forwarded it
    from devices.models import Device

    assert Device.objects.get(device_id="SPEEDWAY-R10").last_seen_at == upload.received_at


def test_minew_gateway_health_samples_and_beacons(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "minew_ble", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["samples"] == 9
    gateway = story.devices["minew_ble"]
    gateway.refresh_from_db()
    assert gateway.health["gatewayFree"] == "91"
    sample = SensorSample.objects.get(sensor_id="ble:d1:22:7a:05:3c:11", metric="temperature")
    assert sample.value == Decimal("4.2") and sample.location.code == "COLD"
    assert sample.device.device_id == "ble:d1:22:7a:05:3c:11"
    sensor = sample.device
    assert sensor.battery_voltage == Decimal("2.977") and sensor.last_seen_at is not None
    assert Tag.objects.filter(tag_id__startswith="ibeacon:").count() == 2


def test_ruuvi_samples_raise_a_zone_rule(story, django_capture_on_commit_callbacks):
    rule = ThresholdRuleFactory(
        site=story.site,
        location=story.zones["COLD"],
        metric="temperature",
        create_threshold=Decimal("8"),
        clear_threshold=Decimal("6"),
    )
    _, upload = post_processed(story, "ruuvi_gateway", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.upload_key == "key:C8:25:2D:11:22:33:2636366621"
    assert SensorSample.objects.filter(upload=upload).count() == 18
    # e4:1a... reads 9.1 °C: the zone alert is raised; d1:22... at 4.35 °C does not clear it.
    alert = Alert.objects.get(kind=rule.alert_kind)
    assert alert.subject == "zone:COLD" and alert.cleared_at is None
    assert alert.data["sensor"] == "ble:e4:1a:9f:22:0b:7c"


def test_handheld_scans_are_sightings(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "gs1_scans", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.upload_key == "key:0193f1c4-7b2e-7c1a-9a51-3f5d2c8e4b10"
    assert upload.result["scans"] == 7
    assert any("lost group separator" in w for w in upload.result["warnings"])
    # With the company prefix configured, scans name the same objects as the RFID tags.
    seen = set(TagState.objects.filter(last_seen_at__isnull=False).values_list("tag__tag_id", flat=True))
    assert seen == {PALLET, UNIT_4711}
    assert not Tag.objects.filter(tag_id__startswith="urn:epc:id:sgln:").exists()


def test_epcis_events_move_definitively(story, django_capture_on_commit_callbacks):
    _, upload = post_processed(story, "epcis2", django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PROCESSED
    assert upload.result["epcis_events"] == 5
    assert zone_of(PALLET) == "DOCK2"  # COLD at 09:44, then DOCK2 at 10:01
    assert zone_of(UNIT_4711) == "QC01"
    assert SerialUnit.objects.get(serial="4711").location.code == "QC01"
    assert SensorSample.objects.get(sensor_id="urn:epc:id:giai:9501101.S1").value == Decimal("4.28")


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_posted_three_times_takes_effect_once(story, fmt, django_capture_on_commit_callbacks):
    answers = [post_processed(story, fmt, django_capture_on_commit_callbacks)[0] for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 200, 200]
    assert len({a.json()["id"] for a in answers}) == 1
    assert answers[1].json()["duplicate"] is True
    assert ReaderUpload.objects.count() == 1
    upload = ReaderUpload.objects.get()
    assert upload.status == UploadStatus.PROCESSED and upload.attempts == 1
    assert device_moves().count() == upload.result.get("transfers", 0)


MALFORMED = {
    "zebra_iotc": ('"timestamp": "2025-11-18T09:41:07.518+0000"', '"timestamp": "yesterday"', "timestamp"),
    "impinj_iot": ('"epcHex": "301643E6B433C200000186A2"', '"epcHex": "not hex"', "epcHex"),
    "impinj_speedway": ('"epc":"30F643E6B4956A4000004E27"', '"epc":"XYZ"', "epc"),
    "llrp_json": ('"TagSeenCount": 12', '"TagSeenCount": "twelve"', "TagSeenCount"),
    "minew_ble": ('"timestamp": "2025-11-18T09:44:09.950Z"', '"timestamp": 17', "timestamp"),
    "ruuvi_gateway": ('"rssi": -78', '"rssi": "loud"', "rssi"),
    "gs1_scans": ('"scanned_at": "2025-11-18T09:49:12.001Z"', '"scanned_at": "2025-11-18 09:49"', "scanned_at"),
    "epcis2": ('"eventTime": "2025-11-18T10:01:55.000Z",', "", "eventTime"),
}


def _nothing_left():
    return (
        Tag.objects.count(),
        TagState.objects.count(),
        UnknownTag.objects.count(),
        SensorSample.objects.count(),
        device_moves().count(),
        Alert.objects.count(),
    )


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_malformed_variant_is_rejected_and_leaves_nothing(story, fmt, django_capture_on_commit_callbacks):
    old, new, field = MALFORMED[fmt]
    text = example(fmt).decode()
    assert old in text
    before = _nothing_left()
    _, upload = post_processed(story, fmt, django_capture_on_commit_callbacks, body=text.replace(old, new, 1).encode())
    assert upload.status == UploadStatus.REJECTED
    assert field in upload.reason
    assert _nothing_left() == before
    device = story.devices[fmt]
    device.refresh_from_db()
    assert device.last_seen_at is None  # a rejected upload changes nothing else


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_truncated_body_is_rejected(story, fmt, django_capture_on_commit_callbacks):
    body = example(fmt)[:-12]
    _, upload = post_processed(story, fmt, django_capture_on_commit_callbacks, body=body)
    assert upload.status == UploadStatus.REJECTED and upload.reason
    assert Tag.objects.count() == 0
