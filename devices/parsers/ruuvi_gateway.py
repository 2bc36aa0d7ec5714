"""Ruuvi Gateway HTTP POST, "time-stamped data from Bluetooth sensors" format.

Follows the Ruuvi docs page "HTTP: Time-stamped data from Bluetooth-sensors" and
its JSON Schema ``ruuvi_http_data_with_timestamps.schema.json``::

    {"data": {"coordinates": "", "timestamp": "1763459060", "nonce": "2636366621",
              "gw_mac": "C8:25:2D:11:22:33",
              "tags": {"D1:22:7A:05:3C:11": {"rssi": -65, "timestamp": "1763459058",
                                             "data": "0201061BFF9904 05..."}}}}

Timestamps are Unix **seconds as strings** (integers accepted).  The variant
without timestamps (a per-tag ``counter``) is accepted too: such tags take the
gateway's ``data.timestamp``.  Every tag gives a TagRead ``ble:<mac>`` at read
point ``gw_mac`` (as reported); RuuviTag data format 5 frames are decoded
(:mod:`devices.parsers._ruuvi`) into samples (temperature °C, humidity %RH,
pressure Pa, acceleration g, battery V, tx power dBm, movement counter) and a
DeviceHealth with battery voltage and measurement sequence.

``upload_key`` is ``"<gw_mac>:<nonce>"``: the nonce is incremented per POST, so a
repeated one is a retry (it restarts at a random value after a reboot).
"""

from __future__ import annotations

from ._common import as_obj, ble_mac, epoch_time, load_json, opt_str, req, rssi_value
from ._ruuvi import decode_hex, observations
from .base import ParseContext, ParseError, ParseResult, TagRead

FORMAT = "ruuvi_gateway"


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse one Ruuvi Gateway time-stamped HTTP POST body."""
    doc = load_json(body)
    try:
        data = as_obj(req(as_obj(doc, "document"), "data"), "data")
        gw_mac = opt_str(data.get("gw_mac"), "data.gw_mac") or ""
        gw_time_raw = data.get("timestamp")
        gw_time = None
        if gw_time_raw is not None:
            gw_time = epoch_time(gw_time_raw, "data.timestamp", per_second=1, allow_str=True)
        nonce = data.get("nonce")
        if nonce is not None and type(nonce) not in (str, int):
            raise ParseError(f"data.nonce: expected string or integer, got {type(nonce).__name__}")
        tags = as_obj(req(data, "tags"), "data.tags")
    except ParseError as exc:
        raise exc.at("envelope") from None
    result = ParseResult(format=FORMAT)
    if nonce is not None and gw_mac:
        result.upload_key = f"{gw_mac}:{nonce}"
    for mac_key, tag in tags.items():
        try:
            sensor_id = "ble:" + ble_mac(mac_key, "tag key")
            tag = as_obj(tag, "tag")
            when_raw = tag.get("timestamp")
            if when_raw is not None:
                when = epoch_time(when_raw, "timestamp", per_second=1, allow_str=True)
            elif gw_time is not None:
                when = gw_time
            else:
                raise ParseError("missing field 'timestamp' (and no data.timestamp)")
            rssi = rssi_value(tag.get("rssi"), "rssi")
            adv = tag.get("data")
            fmt, frame = (None, None) if adv is None else decode_hex(opt_str(adv, "data") or "")
        except ParseError as exc:
            raise exc.at(f"tags[{str(mac_key)[:40]!r}]") from None
        result.reads.append(TagRead(tag_id=sensor_id, read_point=gw_mac, first_seen=when, last_seen=when, rssi=rssi))
        if frame is not None:
            samples, health = observations(sensor_id, when, frame)
            result.samples.extend(samples)
            result.health.append(health)
        elif fmt is not None:
            result.warnings.append(
                f"tag {sensor_id}: Ruuvi data format {fmt} frame not decoded (only complete format 5 frames are)"
            )
        elif adv:
            result.warnings.append(f"tag {sensor_id}: advertisement holds no RuuviTag data")
    return result
