"""Parsers against the example uploads (devices/tests/uploads, copied from shared/uploads).

The examples share one story: GTIN 09501101530003 serial 4711, lot LOT-2611A, tote
GRAI 9501101.00001.5001, pallet SSCC 095011010000000421, workstation WS030.  No
database is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from devices.parsers import PARSERS, ParseError, ParseResult, configure_company_prefixes, parse
from devices.parsers._common import epc_from_hex
from devices.parsers._ruuvi import decode_hex

UPLOADS = Path(__file__).resolve().parent / "uploads"

UNIT_4711 = "urn:epc:id:sgtin:9501101.053000.4711"
TOTE = "urn:epc:id:grai:9501101.00001.5001"
PALLET = "urn:epc:id:sscc:9501101.0000000042"
COMPONENT = "urn:epc:id:sgtin:9501101.153001.20007"
WS030 = "urn:epc:id:sgln:9501101.00001.WS030"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def body(name: str) -> bytes:
    return (UPLOADS / name).read_bytes()


def doc(name: str) -> object:
    return json.loads(body(name))


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture(autouse=True)
def _company_prefixes() -> Iterator[None]:
    configure_company_prefixes(["9501101", "0614141"])
    yield
    configure_company_prefixes([])


def assert_parse_error(fmt: str, data: bytes, *fragments: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(fmt, data)
    for fragment in fragments:
        assert fragment in info.value.reason, info.value.reason
    return info.value


# --------------------------------------------------------------------------- common


@pytest.mark.parametrize(
    ("hex_value", "expected"),
    [
        ("303643E6B433C20000001267", UNIT_4711),
        ("301643E6B433C200000186A1", "urn:epc:id:sgtin:9501101.053000.100001"),
        ("301643E6B433C200000186A2", "urn:epc:id:sgtin:9501101.053000.100002"),
        ("30F643E6B4956A4000004E27", COMPONENT),
        ("31D643E6B40000002A000000", PALLET),
        ("331643E6B400004000001389", TOTE),
        ("341643E6B40000000001117C", "urn:epc:id:giai:9501101.70012"),
        ("E2801160600002050000000A", "epc:hex:E2801160600002050000000A"),
        ("303643e6b433c20000001267", UNIT_4711),
    ],
)
def test_epc_hex_decoding_matches_readme_table(hex_value: str, expected: str) -> None:
    assert epc_from_hex(hex_value, "epc") == (expected, hex_value.upper())


@pytest.mark.parametrize("bad", ["", "ABC", "XYZ1", "30 36", 123, None])
def test_epc_hex_rejects_non_hex(bad: object) -> None:
    with pytest.raises(ParseError, match="epc"):
        epc_from_hex(bad, "epc")


def test_registry_lists_every_format() -> None:
    assert set(PARSERS) == {
        "zebra_iotc",
        "impinj_iot",
        "impinj_speedway",
        "llrp_json",
        "minew_ble",
        "ruuvi_gateway",
        "gs1_scans",
        "csv",
        "epcis2",
        "machine_state",
    }


def test_unknown_format_is_a_parse_error() -> None:
    assert_parse_error("sick_lector", b"{}", "unknown upload format", "'sick_lector'")


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@pytest.mark.parametrize("data", [b"", b"   \n", b"\xff\xfe\x00garbage", b"{", b"null", b"42"])
def test_every_parser_rejects_junk_with_parse_error(fmt: str, data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse(fmt, data)
    assert info.value.reason


def test_non_utf8_reason_names_the_offset() -> None:
    assert_parse_error("zebra_iotc", b'[{"type": "SIMPLE\xff"}]', "not valid UTF-8", "offset 17")


# --------------------------------------------------------------------------- Zebra

ZEBRA = "zebra-fx9600-iotconnector-httppost.json"


def test_zebra_iotc_example() -> None:
    result = parse("zebra_iotc", body(ZEBRA))
    assert isinstance(result, ParseResult)
    assert result.format == "zebra_iotc"
    assert result.upload_key is None
    assert result.warnings == []
    got = [(r.tag_id, r.read_point, r.antenna, r.count, r.rssi) for r in result.reads]
    assert got == [
        (TOTE, ":1", 1, 7, -52.0),
        (TOTE, ":2", 2, 2, -67.0),
        (UNIT_4711, ":1", 1, 5, -58.0),
        ("epc:hex:E2801160600002050000000A", ":1", 1, 1, -71.0),
    ]
    first = result.reads[0]
    assert first.first_seen == first.last_seen == utc(2025, 11, 18, 9, 41, 7, 512000)
    assert first.first_seen.tzinfo is UTC
    assert first.epc_hex == "331643E6B400004000001389"


def test_zebra_iotc_single_event_object_and_host_name() -> None:
    event = doc(ZEBRA)[0]
    event["data"]["hostName"] = "FX9600-DOCK1"
    event["data"]["channel"] = 915.25  # unknown metadata is ignored
    result = parse("zebra_iotc", dumps(event))
    assert [(r.tag_id, r.read_point) for r in result.reads] == [(TOTE, "FX9600-DOCK1:1")]


def test_zebra_iotc_offset_timestamp_is_converted_to_utc() -> None:
    events = doc(ZEBRA)
    events[0]["timestamp"] = "2025-11-18T10:41:07.512+01:00"
    assert parse("zebra_iotc", dumps(events)).reads[0].first_seen == utc(2025, 11, 18, 9, 41, 7, 512000)


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda e: e[2]["data"].update(antenna="1"), ("event [2]", "data.antenna", "integer")),
        (lambda e: e[1]["data"].pop("idHex"), ("event [1]", "idHex")),
        (lambda e: e[3].update(timestamp="2025-11-18T09:41:08"), ("event [3]", "timestamp", "no UTC offset")),
        (lambda e: e[0].update(timestamp="yesterday"), ("event [0]", "timestamp", "ISO 8601")),
        (lambda e: e[0]["data"].update(idHex="not-hex"), ("event [0]", "data.idHex")),
        (lambda e: e[0]["data"].update(reads=0), ("event [0]", "data.reads", "minimum")),
        (lambda e: e[0].update(data=[]), ("event [0]", "data", "object")),
        (lambda e: e.append("SIMPLE"), ("event [4]", "expected object")),
    ],
)
def test_zebra_iotc_malformed(mutate, fragments: tuple[str, ...]) -> None:
    events = doc(ZEBRA)
    mutate(events)
    assert_parse_error("zebra_iotc", dumps(events), *fragments)


def test_zebra_iotc_truncated() -> None:
    data = body(ZEBRA)
    assert_parse_error("zebra_iotc", data[: len(data) // 2], "invalid JSON at line")


# --------------------------------------------------------------------------- Impinj IoT

IMPINJ = "impinj-r700-iot-webhook.json"
IMPINJ_EXPECTED = [
    ("urn:epc:id:sgtin:9501101.053000.100001", "impinj-14-46-36:1", 1, -53.25, utc(2025, 11, 18, 9, 41, 7, 611493)),
    ("urn:epc:id:sgtin:9501101.053000.100002", "impinj-14-46-36:2", 2, -61.10, utc(2025, 11, 18, 9, 41, 7, 633870)),
    (PALLET, "impinj-14-46-36:1", 1, -48.70, utc(2025, 11, 18, 9, 41, 8, 97002)),
]


def _impinj_tuples(result: ParseResult) -> list[tuple]:
    return [(r.tag_id, r.read_point, r.antenna, r.rssi, r.last_seen) for r in result.reads]


def test_impinj_iot_example() -> None:
    result = parse("impinj_iot", body(IMPINJ))
    assert _impinj_tuples(result) == IMPINJ_EXPECTED
    assert all(r.count == 1 and r.first_seen == r.last_seen for r in result.reads)
    assert result.upload_key is None
    assert result.warnings == []


def test_impinj_iot_stream_lines_and_base64_epc() -> None:
    events = doc(IMPINJ)
    for event in events:
        del event["tagInventoryEvent"]["epcHex"]  # only the base64 "epc" left
    stream = b"\r\n".join(dumps(e) for e in events) + b"\r\n\r\n"
    result = parse("impinj_iot", stream)
    assert _impinj_tuples(result) == IMPINJ_EXPECTED


def test_impinj_iot_health_and_unknown_events() -> None:
    events = doc(IMPINJ)
    events.append(
        {
            "timestamp": "2025-11-18T09:41:09Z",
            "hostname": "impinj-14-46-36",
            "eventType": "overflow",
            "overflowEvent": {"count": 12},
        }
    )
    events.append({"timestamp": "2025-11-18T09:41:09Z", "eventType": "tagLocationUpdate"})
    result = parse("impinj_iot", dumps(events))
    assert len(result.reads) == 3
    (health,) = result.health
    assert health.device_ref == "impinj-14-46-36"
    assert ("event", "overflow") in health.extra and ("count", "12") in health.extra
    assert any("overflow" in w for w in result.warnings)
    assert any("tagLocationUpdate" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda e: [e[1]["tagInventoryEvent"].pop(k) for k in ("epc", "epcHex")], ("event [1]", "epcHex")),
        (
            lambda e: e[0]["tagInventoryEvent"].update(lastSeenTime="2025-11-18T09:41:07.611493"),
            ("event [0]", "lastSeenTime", "no UTC offset"),
        ),
        (lambda e: e[2]["tagInventoryEvent"].update(antennaPort=True), ("event [2]", "antennaPort", "boolean")),
        (lambda e: e[0]["tagInventoryEvent"].update(peakRssiCdbm="loud"), ("event [0]", "peakRssiCdbm")),
        (lambda e: e[0].pop("eventType"), ("event [0]", "eventType")),
        (lambda e: e[1].update(tagInventoryEvent=None), ("event [1]", "tagInventoryEvent", "object")),
    ],
)
def test_impinj_iot_malformed(mutate, fragments: tuple[str, ...]) -> None:
    events = doc(IMPINJ)
    mutate(events)
    assert_parse_error("impinj_iot", dumps(events), *fragments)


def test_impinj_iot_bad_stream_line_is_named() -> None:
    lines = [dumps(e) for e in doc(IMPINJ)]
    lines[1] = lines[1][:40]
    assert_parse_error("impinj_iot", b"\n".join(lines), "line 2", "invalid JSON")


# --------------------------------------------------------------------------- Speedway Connect

SPEEDWAY = "impinj-speedway-connect-httppost.ndjson"


def test_impinj_speedway_example() -> None:
    result = parse("impinj_speedway", body(SPEEDWAY))
    got = [(r.tag_id, r.read_point, r.antenna, r.rssi, r.first_seen) for r in result.reads]
    assert got == [
        ("urn:epc:id:giai:9501101.70012", ":3", 3, -51.0, utc(2025, 11, 18, 9, 42, 15, 360879)),
        (TOTE, ":3", 3, -49.0, utc(2025, 11, 18, 9, 42, 15, 373293)),
        (COMPONENT, ":4", 4, -63.0, utc(2025, 11, 18, 9, 42, 15, 410799)),
    ]
    assert result.health == []  # the heartbeat has no time to report
    assert result.warnings == []


def test_impinj_speedway_location_mode_is_rejected() -> None:
    data = body(SPEEDWAY) + b'\n{"x": 120, "y": -40, "confidence": 0.8, "timestamp": "2025-11-18T09:42:16Z"}\n'
    assert_parse_error("impinj_speedway", data, "line 6", "Location/Direction mode", "not supported")


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ('{"antennaPort":3,"epc":"3316","firstSeenTimestamp":"2025-11-18T09:42:15Z"', ("line 2", "invalid JSON")),
        (
            '{"antennaPort":"3","epc":"331643E6B400004000001389","firstSeenTimestamp":"2025-11-18T09:42:15Z"}',
            ("line 2", "antennaPort"),
        ),
        ('{"antennaPort":3,"firstSeenTimestamp":"2025-11-18T09:42:15Z"}', ("line 2", "'epc'")),
        (
            '{"antennaPort":3,"epc":"331643E6B400004000001389","firstSeenTimestamp":1763458935}',
            ("line 2", "firstSeenTimestamp"),
        ),
        ('{"antennaPort":3,"epc":"331643E6B400004000001389"}', ("line 2", "firstSeenTimestamp")),
        ('{"isHeartBeat":"yes"}', ("line 2", "isHeartBeat")),
    ],
)
def test_impinj_speedway_malformed(line: str, fragments: tuple[str, ...]) -> None:
    lines = body(SPEEDWAY).splitlines()
    lines[1] = line.encode()
    assert_parse_error("impinj_speedway", b"\n".join(lines), *fragments)


# --------------------------------------------------------------------------- LLRP

LLRP = "llrp-ro-access-report.json"


def test_llrp_json_example() -> None:
    result = parse("llrp_json", body(LLRP))
    got = [(r.tag_id, r.read_point, r.antenna, r.count, r.rssi, r.first_seen, r.last_seen) for r in result.reads]
    reader = "SpeedwayR-10-EF-25"
    assert got == [
        (TOTE, f"{reader}:1", 1, 9, -47.9, utc(2025, 11, 18, 9, 43, 0, 100000), utc(2025, 11, 18, 9, 43, 0, 900000)),
        (TOTE, f"{reader}:2", 2, 1, -61.25, utc(2025, 11, 18, 9, 43, 0, 900000), utc(2025, 11, 18, 9, 43, 0, 900000)),
        (
            COMPONENT,
            f"{reader}:2",
            2,
            12,
            -54.6,
            utc(2025, 11, 18, 9, 43, 1, 250000),
            utc(2025, 11, 18, 9, 43, 2, 800000),
        ),
        (
            "epc:hex:E2801160600002050000000A1B2C3D4E",
            f"{reader}:1",
            1,
            1,
            -70.0,
            utc(2025, 11, 18, 9, 43, 2, 50000),
            utc(2025, 11, 18, 9, 43, 2, 50000),
        ),
    ]
    assert result.upload_key == "SpeedwayR-10-EF-25:40117:1763458980100000"


def test_llrp_json_uses_peak_rssi_without_impinj_extension() -> None:
    report = doc(LLRP)
    del report["RO_ACCESS_REPORT"]["TagReportData"][0]["ImpinjPeakRSSI"]
    assert parse("llrp_json", dumps(report)).reads[0].rssi == -48.0


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda t: t[0].update(FirstSeenTimestampUTC="1763458980100000"),
            ("TagReportData [0]", "FirstSeenTimestampUTC", "integer"),
        ),
        (
            lambda t: [t[1].pop(k) for k in ("FirstSeenTimestampUTC", "LastSeenTimestampUTC")],
            ("TagReportData [1]", "FirstSeenTimestampUTC"),
        ),
        (lambda t: t[2].pop("EPC-96"), ("TagReportData [2]", "EPC-96")),
        (lambda t: t[3]["EPCData"].update(EPC=12), ("TagReportData [3]", "EPCData.EPC")),
        (lambda t: t[0].update(TagSeenCount=-1), ("TagReportData [0]", "TagSeenCount")),
        (
            lambda t: t[0].update(LastSeenTimestampUTC=10**30),
            ("TagReportData [0]", "LastSeenTimestampUTC", "out of range"),
        ),
        (lambda t: t.append([]), ("TagReportData [4]", "object")),
    ],
)
def test_llrp_json_malformed(mutate, fragments: tuple[str, ...]) -> None:
    report = doc(LLRP)
    mutate(report["RO_ACCESS_REPORT"]["TagReportData"])
    assert_parse_error("llrp_json", dumps(report), *fragments)


def test_llrp_json_missing_report() -> None:
    report = doc(LLRP)
    del report["RO_ACCESS_REPORT"]
    assert_parse_error("llrp_json", dumps(report), "envelope", "RO_ACCESS_REPORT")


# --------------------------------------------------------------------------- Minew

MINEW = "minew-g1-json-long.json"
RUUVI_SENSOR = "ble:d1:22:7a:05:3c:11"


def _samples(result: ParseResult, sensor_id: str) -> dict[str, tuple[Decimal, str]]:
    return {s.metric: (s.value, s.unit) for s in result.samples if s.sensor_id == sensor_id}


def test_minew_ble_example() -> None:
    result = parse("minew_ble", body(MINEW))
    beacon = "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:30"
    got = [(r.tag_id, r.read_point, r.rssi, r.last_seen) for r in result.reads]
    assert got == [
        (f"{beacon}:4117", "AC233FC0A1B2", -67.0, utc(2025, 11, 18, 9, 44, 9, 877000)),
        (f"{beacon}:4124", "AC233FC0A1B2", -81.0, utc(2025, 11, 18, 9, 44, 9, 912000)),
        (RUUVI_SENSOR, "AC233FC0A1B2", -74.0, utc(2025, 11, 18, 9, 44, 9, 950000)),
    ]
    samples = _samples(result, RUUVI_SENSOR)
    assert samples["temperature"] == (Decimal("4.20"), "°C")
    assert samples["humidity"] == (Decimal("61.5"), "%RH")
    assert samples["pressure"] == (Decimal("100870"), "Pa")
    assert samples["battery_voltage"] == (Decimal("2.977"), "V")
    gateway, sensor = result.health
    assert gateway.device_ref == "AC233FC0A1B2"
    assert dict(gateway.extra) == {"gatewayFree": "91", "gatewayLoad": "0.04"}
    assert sensor.device_ref == RUUVI_SENSOR
    assert ("measurement_sequence", "40211") in sensor.extra


def test_minew_ble_battery_percentage() -> None:
    elements = doc(MINEW)
    elements[1]["battery"] = 87
    health = [h for h in parse("minew_ble", dumps(elements)).health if h.battery_pct is not None]
    assert [(h.device_ref, h.battery_pct) for h in health] == [
        ("ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:30:4117", Decimal(87))
    ]


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda e: e[1].update(mac="C30000"), ("[1]", "mac", "MAC")),
        (lambda e: e[2].pop("timestamp"), ("[2]", "timestamp")),
        (lambda e: e[2].update(ibeaconUuid="beacon"), ("[2]", "ibeaconUuid")),
        (lambda e: e[1].update(ibeaconMajor=70000), ("[1]", "ibeaconMajor", "maximum")),
        (lambda e: e[3].update(rssi=None, rawData=5), ("[3]", "rawData", "string")),
        (lambda e: e[0].update(timestamp="2025-11-18 09:44:10"), ("[0]", "no UTC offset")),
    ],
)
def test_minew_ble_malformed(mutate, fragments: tuple[str, ...]) -> None:
    elements = doc(MINEW)
    mutate(elements)
    assert_parse_error("minew_ble", dumps(elements), *fragments)


def test_minew_ble_wants_an_array() -> None:
    assert_parse_error("minew_ble", dumps(doc(MINEW)[0]), "JSON-LONG array")


# --------------------------------------------------------------------------- Ruuvi

RUUVI = "ruuvi-gateway-http-timestamped.json"


def test_ruuvi_gateway_example() -> None:
    result = parse("ruuvi_gateway", body(RUUVI))
    assert result.upload_key == "C8:25:2D:11:22:33:2636366621"
    got = [(r.tag_id, r.read_point, r.rssi, r.last_seen) for r in result.reads]
    assert got == [
        (RUUVI_SENSOR, "C8:25:2D:11:22:33", -65.0, utc(2025, 11, 18, 9, 44, 18)),
        ("ble:e4:1a:9f:22:0b:7c", "C8:25:2D:11:22:33", -78.0, utc(2025, 11, 18, 9, 44, 17)),
    ]
    cold = _samples(result, RUUVI_SENSOR)
    assert cold == {
        "temperature": (Decimal("4.35"), "°C"),
        "humidity": (Decimal("61.2"), "%RH"),
        "pressure": (Decimal("100868"), "Pa"),
        "acceleration_x": (Decimal("-0.016"), "g"),
        "acceleration_y": (Decimal("0.004"), "g"),
        "acceleration_z": (Decimal("1.036"), "g"),
        "battery_voltage": (Decimal("2.977"), "V"),
        "tx_power": (Decimal(4), "dBm"),
        "movement_counter": (Decimal(12), "count"),
    }
    other = _samples(result, "ble:e4:1a:9f:22:0b:7c")
    assert other["temperature"] == (Decimal("9.10"), "°C")
    assert other["humidity"] == (Decimal("58.0"), "%RH")
    assert other["battery_voltage"] == (Decimal("2.861"), "V")
    sequences = {h.device_ref: dict(h.extra)["measurement_sequence"] for h in result.health}
    assert sequences == {RUUVI_SENSOR: "40212", "ble:e4:1a:9f:22:0b:7c": "1207"}
    assert all(s.observed_at.tzinfo is UTC for s in result.samples)


def test_ruuvi_df5_invalid_sentinels_become_absent() -> None:
    payload = "05" + "8000" + "FFFF" + "FFFF" + "8000" + "8000" + "8000" + "FFFF" + "FF" + "FFFF" + "FFFFFFFFFFFF"
    fmt, frame = decode_hex("0201061BFF9904" + payload)
    assert fmt == 5 and frame is not None
    assert frame.temperature is None and frame.humidity is None and frame.pressure is None
    assert frame.acceleration == (None, None, None)
    assert frame.battery_voltage is None and frame.tx_power is None
    assert frame.movement_counter is None and frame.sequence is None and frame.mac is None
    report = doc(RUUVI)
    report["data"]["tags"]["D1:22:7A:05:3C:11"]["data"] = "0201061BFF9904" + payload
    result = parse("ruuvi_gateway", dumps(report))
    assert _samples(result, RUUVI_SENSOR) == {}
    assert len(result.reads) == 2


def test_ruuvi_gateway_other_formats_and_tags_without_timestamp() -> None:
    report = doc(RUUVI)
    tags = report["data"]["tags"]
    tags["D1:22:7A:05:3C:11"]["data"] = "02010611FF990408" + "00" * 13  # a format this parser does not decode
    del tags["E4:1A:9F:22:0B:7C"]["timestamp"]
    tags["E4:1A:9F:22:0B:7C"]["counter"] = 17
    result = parse("ruuvi_gateway", dumps(report))
    assert any("format 8" in w for w in result.warnings)
    assert result.reads[1].last_seen == utc(2025, 11, 18, 9, 44, 20)  # the gateway's time


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda d: d["tags"]["D1:22:7A:05:3C:11"].update(timestamp="yesterday"), ("D1:22:7A:05:3C:11", "timestamp")),
        (lambda d: d["tags"]["D1:22:7A:05:3C:11"].update(rssi="-65"), ("D1:22:7A:05:3C:11", "rssi", "number")),
        (lambda d: d.update(tags=[]), ("envelope", "data.tags", "object")),
        (lambda d: d.pop("tags"), ("envelope", "tags")),
        (lambda d: d.update(timestamp=-5), ("envelope", "data.timestamp", "negative")),
        (lambda d: d["tags"].update({"not-a-mac": {"rssi": -1, "timestamp": "1"}}), ("not-a-mac", "MAC")),
    ],
)
def test_ruuvi_gateway_malformed(mutate, fragments: tuple[str, ...]) -> None:
    report = doc(RUUVI)
    mutate(report["data"])
    assert_parse_error("ruuvi_gateway", dumps(report), *fragments)


# --------------------------------------------------------------------------- scans

SCANS = "handheld-scans-gs1.json"


def test_gs1_scans_example() -> None:
    result = parse("gs1_scans", body(SCANS))
    assert result.upload_key == "0193f1c4-7b2e-7c1a-9a51-3f5d2c8e4b10"
    by_seq = {s.seq: s for s in result.scans}
    assert sorted(by_seq) == [311, 312, 313, 314, 315, 316, 317]
    assert all(s.scanner_ref == "HH-TC52-0042" for s in result.scans)

    pallet = by_seq[311]
    assert (pallet.symbology, pallet.sscc, pallet.tag_id, pallet.action) == (
        "GS1-128",
        "095011010000000421",
        PALLET,
        "receive",
    )
    assert pallet.scanned_at == utc(2025, 11, 18, 9, 48, 2, 114000)

    case = by_seq[312]
    assert case.elements == (("01", "09501101530003"), ("17", "270131"), ("10", "LOT-2611A"), ("30", "12"))
    assert (case.gtin, case.lot, case.expiry, case.quantity, case.serial) == (
        "09501101530003",
        "LOT-2611A",
        date(2027, 1, 31),
        Decimal(12),
        None,
    )
    assert case.tag_id is None  # a GTIN without serial is a class, not an instance

    traveler = by_seq[313]
    assert (traveler.symbology, traveler.elements, traveler.gtin, traveler.tag_id) == ("Code 128", (), None, None)
    assert traveler.raw == "]C0WO-2025-00417"

    unit = by_seq[314]
    assert (unit.symbology, unit.gtin, unit.serial, unit.lot, unit.tag_id) == (
        "GS1 DataMatrix",
        "09501101530003",
        "4711",
        "LOT-2611A",
        UNIT_4711,
    )

    station = by_seq[315]
    assert (station.gln, station.location_ext, station.tag_id) == ("9501101000018", "WS030", WS030)

    link = by_seq[316]
    assert (link.symbology, link.gtin, link.lot, link.serial, link.expiry, link.tag_id) == (
        "QR Code",
        "09501101530003",
        "LOT-2611A",
        "4711",
        date(2027, 1, 31),
        UNIT_4711,
    )

    wedge = by_seq[317]
    assert (wedge.symbology, wedge.lot, wedge.serial, wedge.tag_id) == (None, "LOT-2611A214713", None, None)
    (warning,) = result.warnings
    assert "seq 317" in warning and "(21)4713" in warning and "group separator" in warning


def test_gs1_scans_substitute_separator_recovers_the_serial() -> None:
    envelope = doc(SCANS)
    envelope["separator_chars"] = ["|"]
    envelope["scans"] = [{"seq": 1, "scanned_at": "2025-11-18T09:50:20Z", "raw": "010950110153000310LOT-2611A|214713"}]
    (scan,) = parse("gs1_scans", dumps(envelope)).scans
    assert (scan.lot, scan.serial, scan.tag_id) == ("LOT-2611A", "4713", "urn:epc:id:sgtin:9501101.053000.4713")


def test_gs1_scans_gs1_qr_ean_and_grai() -> None:
    envelope = doc(SCANS)
    envelope["scans"] = [
        {"scanned_at": "2025-11-18T09:50:20Z", "raw": "]Q30109501101530003214711"},
        {"scanned_at": "2025-11-18T09:50:20Z", "raw": "]E09501101530003"},
        {"scanned_at": "2025-11-18T09:50:20Z", "raw": "]C18003095011010000185001"},
        {"scanned_at": "2025-11-18T09:50:20Z", "raw": "]d2garbage"},
    ]
    qr, ean, tote, junk = parse("gs1_scans", dumps(envelope)).scans
    assert (qr.symbology, qr.tag_id) == ("GS1 QR Code", UNIT_4711)
    assert (ean.symbology, ean.gtin) == ("EAN-13", "09501101530003")
    assert (tote.grai, tote.tag_id) == ("095011010000185001", TOTE)
    assert junk.elements == () and junk.symbology == "GS1 DataMatrix"


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda d: d["scans"][3].update(scanned_at="2025-11-18T09:49:15.870"),
            ("scans[3]", "scanned_at", "no UTC offset"),
        ),
        (lambda d: d["scans"][0].update(raw=100095011010000000421), ("scans[0]", "raw", "string")),
        (lambda d: d["scans"][2].pop("raw"), ("scans[2]", "'raw'")),
        (lambda d: d["scans"][1].update(seq="312"), ("scans[1]", "seq", "integer")),
        (lambda d: d.update(scans={}), ("envelope", "scans", "array")),
        (lambda d: d.update(separator_chars=["ab"]), ("envelope", "separator_chars[0]")),
    ],
)
def test_gs1_scans_malformed(mutate, fragments: tuple[str, ...]) -> None:
    envelope = doc(SCANS)
    mutate(envelope)
    assert_parse_error("gs1_scans", dumps(envelope), *fragments)


# --------------------------------------------------------------------------- CSV

CSV_BODY = (
    "\ufeffEPC,Reader,Antenna,Timestamp,RSSI,Count,Operator\r\n"
    "303643E6B433C20000001267,FX9600-DOCK1,2,2025-11-18T09:41:07.512Z,-58.5,5,anna\r\n"
    "331643e6b400004000001389,FX9600-DOCK1,,2025-11-18T10:41:08+01:00,,,\r\n"
    "\r\n"
    "urn:epc:id:sscc:9501101.0000000042,,1,2025-11-18T09:41:09Z,-61,1,\r\n"
).encode()


def test_csv_reads() -> None:
    result = parse("csv", CSV_BODY)
    got = [(r.tag_id, r.read_point, r.antenna, r.count, r.rssi, r.first_seen) for r in result.reads]
    assert got == [
        (UNIT_4711, "FX9600-DOCK1:2", 2, 5, -58.5, utc(2025, 11, 18, 9, 41, 7, 512000)),
        (TOTE, "FX9600-DOCK1", None, 1, None, utc(2025, 11, 18, 9, 41, 8)),
        (PALLET, ":1", 1, 1, -61.0, utc(2025, 11, 18, 9, 41, 9)),
    ]
    assert result.reads[0].epc_hex == "303643E6B433C20000001267"


def test_csv_semicolon_and_read_point_header() -> None:
    data = b"tag;read_point;time\nE2801160600002050000000A;gate-3;2025-11-18T09:41:07Z\n"
    (read,) = parse("csv", data).reads
    assert (read.tag_id, read.read_point) == ("epc:hex:E2801160600002050000000A", "gate-3")


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (b"epc,antenna,timestamp\n3036,1,2025-11-18T09:41:07Z\n", ("line 1", "'reader'")),
        (b"reader,timestamp\nr,2025-11-18T09:41:07Z\n", ("line 1", "'epc'")),
        (b"epc,reader,timestamp\n303643E6B433C20000001267,r,2025-11-18T09:41:07\n", ("line 2", "no UTC offset")),
        (b"epc,reader,timestamp,count\n303643E6B433C20000001267,r,2025-11-18T09:41:07Z,0\n", ("line 2", "count")),
        (b"epc,reader,timestamp,rssi\n303643E6B433C20000001267,r,2025-11-18T09:41:07Z,loud\n", ("line 2", "rssi")),
        (b"epc,reader,timestamp\n303643E6B433C20000001267,r\n", ("line 2", "fields")),
        (b"epc,reader,timestamp\nXYZ,r,2025-11-18T09:41:07Z\n", ("line 2", "epc")),
    ],
)
def test_csv_malformed(data: bytes, fragments: tuple[str, ...]) -> None:
    assert_parse_error("csv", data, *fragments)


# --------------------------------------------------------------------------- EPCIS

EPCIS = "epcis-2.0-capture.jsonld"


def test_epcis2_capture_example() -> None:
    document = doc(EPCIS)
    result = parse("epcis2", body(EPCIS))
    assert result.epcis_events == document["epcisBody"]["eventList"]
    got = [(r.tag_id, r.read_point, r.first_seen) for r in result.reads]
    assert got == [
        (UNIT_4711, "urn:epc:id:sgln:9501101.00001.QC01", utc(2025, 11, 18, 8, 40, 2)),
        (PALLET, "urn:epc:id:sgln:9501101.00001.COLD1", utc(2025, 11, 18, 9, 44, 18)),
        (PALLET, "urn:epc:id:sgln:9501101.00001.DOCK2", utc(2025, 11, 18, 10, 1, 55)),
    ]
    (sample,) = result.samples
    assert (sample.sensor_id, sample.metric, sample.value, sample.unit) == (
        "urn:epc:id:giai:9501101.S1",
        "temperature",
        Decimal("4.28"),
        "°C",
    )
    assert result.upload_key is None


@pytest.mark.parametrize("name", sorted(p.name for p in (UPLOADS / "epcis").glob("*.jsonld")))
def test_epcis2_standard_examples_validate(name: str) -> None:
    data = (UPLOADS / "epcis" / name).read_bytes()
    result = parse("epcis2", data)
    assert result.epcis_events == json.loads(data)["epcisBody"]["eventList"]


def test_epcis2_digital_link_epcs_are_normalised() -> None:
    document = doc(EPCIS)
    document["epcisBody"]["eventList"][1]["epcList"] = ["https://id.gs1.org/01/09501101530003/21/4711"]
    assert parse("epcis2", dumps(document)).reads[0].tag_id == UNIT_4711


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda e: e[1].pop("eventTime"), ("event [1]", "ObjectEvent", "eventTime")),
        (lambda e: e[1].update(action="LOOK"), ("event [1]", "ObjectEvent", "field action")),
        (
            lambda e: e[2].update(childEPCs="urn:epc:id:sgtin:9501101.053000.4711"),
            ("event [2]", "AggregationEvent", "childEPCs"),
        ),
        (lambda e: e[4]["readPoint"].pop("id"), ("event [4]", "readPoint")),
        (lambda e: e[3].update(eventTime="2025-11-18T09:44:18"), ("event [3]", "eventTime")),
    ],
)
def test_epcis2_invalid_events_name_index_and_field(mutate, fragments: tuple[str, ...]) -> None:
    document = doc(EPCIS)
    mutate(document["epcisBody"]["eventList"])
    assert_parse_error("epcis2", dumps(document), *fragments)


def test_epcis2_invalid_document_header() -> None:
    document = doc(EPCIS)
    del document["creationDate"]
    assert_parse_error("epcis2", dumps(document), "creationDate")
