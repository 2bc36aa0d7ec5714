"""Minew BLE gateway (G1/G2/MG3/MG4) upload in the "JSON-LONG" format.

Follows reelyactive/barnowl-minew ``lib/jsonlongpacketdecoder.js`` and its README
(formats BINARY-LONG, MINEW-CONNECT, JSON-LONG, JSON-RAW): a JSON array whose
elements are either the gateway itself (``type: "Gateway"``, ``mac``,
``gatewayFree``, ``gatewayLoad``) or a BLE advertisement heard since the last
upload (``timestamp`` ISO 8601, ``type``, ``mac``, ``rssi``, and per type
``ibeaconUuid`` / ``ibeaconMajor`` / ``ibeaconMinor`` / ``ibeaconTxPower`` /
``battery`` or the undecoded ``rawData`` hex).

Results:

* the gateway element -> DeviceHealth about the gateway (``extra``: gatewayFree,
  gatewayLoad); its ``mac`` (as reported) is the read point of every read;
* iBeacon -> TagRead ``ibeacon:<uuid>:<major>:<minor>`` (UUID lower-case, dashed);
* any other advertisement -> TagRead ``ble:<aa:bb:..>``; when ``rawData`` holds a
  RuuviTag data format 5 frame it is decoded into samples like the Ruuvi gateway;
* ``battery`` (percent) -> DeviceHealth for the tag when above 0 (plain iBeacon
  frames carry no battery level and the gateway reports 0 for them);
* a Minew S1 temperature/humidity frame in ``rawData`` (:mod:`._minew_s1`) ->
  samples ``temperature`` (°C) and ``humidity`` (%RH) and the sensor's battery
  percentage; an S1 info frame -> its battery; every other frame stays a plain
  sighting (presence).  A cut-off S1 frame is kept as presence with a warning.

The body is the JSON-LONG array (one HTTP POST or MQTT message, pretty-printed or
not); several arrays or elements one per line are accepted too.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from ._common import (
    as_float,
    as_int,
    as_obj,
    as_str,
    ble_mac,
    decode_text,
    iso_time,
    load_json_records,
    req,
    rssi_value,
)
from ._minew_s1 import S1FrameError, decode_s1
from ._ruuvi import FrameError, decode_hex, observations
from .base import DeviceHealth, ParseContext, ParseError, ParseResult, SensorSample, TagRead

FORMAT = "minew_ble"


def _ibeacon_id(tag: dict) -> str:
    raw_uuid = as_str(req(tag, "ibeaconUuid"), "ibeaconUuid")
    try:
        beacon_uuid = str(uuid.UUID(raw_uuid.strip()))
    except ValueError:
        raise ParseError(f"ibeaconUuid: {raw_uuid[:40]!r} is not a UUID") from None
    major = as_int(req(tag, "ibeaconMajor"), "ibeaconMajor", minimum=0, maximum=65535)
    minor = as_int(req(tag, "ibeaconMinor"), "ibeaconMinor", minimum=0, maximum=65535)
    return f"ibeacon:{beacon_uuid}:{major}:{minor}"


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse one JSON-LONG upload."""
    text = decode_text(body).strip()
    if text[:1] == "{" and "\n" not in text:
        raise ParseError("expected a JSON-LONG array")
    doc, _lines = load_json_records(body)
    result = ParseResult(format=FORMAT)
    gateway = ""
    for el in doc:
        if type(el) is dict and el.get("type") == "Gateway" and type(el.get("mac")) is str:
            gateway = el["mac"]
            break
    for i, el in enumerate(doc):
        try:
            el = as_obj(el, "element")
            kind = as_str(req(el, "type"), "type")
            seen = iso_time(req(el, "timestamp"), "timestamp")
            if kind == "Gateway":
                mac = as_str(req(el, "mac"), "mac")
                extra = []
                for key in ("gatewayFree", "gatewayLoad"):
                    if el.get(key) is not None:
                        as_float(el[key], key)
                        extra.append((key, str(el[key])))
                result.health.append(DeviceHealth(device_ref=mac, observed_at=seen, extra=tuple(extra)))
                continue
            mac_id = "ble:" + ble_mac(req(el, "mac"), "mac")
            tag_id = _ibeacon_id(el) if kind == "iBeacon" else mac_id
            rssi = rssi_value(el.get("rssi"), "rssi")
            battery = el.get("battery")
            if battery is not None:
                battery = as_int(battery, "battery", minimum=0, maximum=100)
            raw = el.get("rawData")
            frame = s1 = None
            if raw is not None:
                raw = as_str(raw, "rawData", allow_empty=True)
                try:
                    _fmt, frame = decode_hex(raw)
                except FrameError as exc:
                    result.warnings.append(f"[{i}] {mac_id}: {exc}; kept as presence")
                try:
                    s1 = decode_s1(raw)
                except S1FrameError as exc:
                    result.warnings.append(f"[{i}] {mac_id}: {exc}; kept as presence")
        except ParseError as exc:
            raise exc.at(f"[{i}]") from None
        result.reads.append(TagRead(tag_id=tag_id, read_point=gateway, first_seen=seen, last_seen=seen, rssi=rssi))
        if battery:
            result.health.append(DeviceHealth(device_ref=tag_id, observed_at=seen, battery_pct=Decimal(battery)))
        if frame is not None:
            samples, health = observations(mac_id, seen, frame)
            result.samples.extend(samples)
            result.health.append(health)
        if s1 is not None:
            if s1.temperature is not None:
                result.samples.append(SensorSample(mac_id, "temperature", s1.temperature, "°C", seen))
            if s1.humidity is not None:
                result.samples.append(SensorSample(mac_id, "humidity", s1.humidity, "%RH", seen))
            if not battery:
                result.health.append(
                    DeviceHealth(device_ref=mac_id, observed_at=seen, battery_pct=Decimal(s1.battery_pct))
                )
    return result
