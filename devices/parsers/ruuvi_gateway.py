"""Ruuvi Gateway HTTP POST, "time-stamped data from Bluetooth sensors" format.

Follows the Ruuvi docs page "HTTP: Time-stamped data from Bluetooth-sensors" and
its JSON Schema ``ruuvi_http_data_with_timestamps.schema.json``::

    {"data": {"coordinates": "", "timestamp": "1763459060", "nonce": "2636366621",
              "gw_mac": "C8:25:2D:11:22:33",
              "tags": {"D1:22:7A:05:3C:11": {"rssi": -65, "timestamp": "1763459058",
                                             "data": "0201061BFF9904 05..."}}}}

Timestamps are Unix **seconds as strings** (integers accepted).  The variant
without timestamps ("HTTP: data from Bluetooth-sensors", a gateway without NTP:
a per-tag ``counter`` and no ``timestamp``) is accepted too: such tags take the
gateway's ``data.timestamp`` when present, else the upload's receive time, with
a warning saying so.  Every tag gives a TagRead ``ble:<mac>`` at read point
``gw_mac`` (as reported); RuuviTag data formats 5 and 3 are decoded
(:mod:`devices.parsers._ruuvi`) into samples (temperature °C, negative ones
included, humidity %RH, pressure Pa, acceleration g, battery V, and for format 5
tx power dBm and movement counter) and a DeviceHealth with battery voltage and
measurement sequence.  A format 3 or 5 frame that is truncated, or ``data`` that
is not hex, rejects the upload with the tag and the reason; other Ruuvi formats
are kept as presence with a warning.

``upload_key`` is ``"<gw_mac>:<nonce>"``: the nonce is incremented per POST, so a
repeated one is a retry (it restarts at a random value after a reboot).
"""

from __future__ import annotations

from ._common import as_obj, ble_mac, epoch_time, load_json, opt_str, req, rssi_value
from ._ruuvi import FrameError, decode_hex, observations
from .base import ParseContext, ParseError, ParseResult, TagRead

_HEX = frozenset("0123456789abcdefABCDEF")

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
    received_at = ctx.received_at if ctx is not None else None
    untimed = 0
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
            elif received_at is not None:
                when = received_at
                untimed += 1
            else:
                raise ParseError("missing field 'timestamp' (and no data.timestamp)")
            rssi = rssi_value(tag.get("rssi"), "rssi")
            adv = tag.get("data")
            fmt, frame = None, None
            if adv is not None:
                hex_text = opt_str(adv, "data") or ""
                if hex_text and (len(hex_text) % 2 or not _HEX.issuperset(hex_text)):
                    raise ParseError(f"data: {hex_text[:40]!r} is not an even-length hex advertisement")
                try:
                    fmt, frame = decode_hex(hex_text)
                except FrameError as exc:
                    raise ParseError(f"data: truncated RuuviTag frame ({exc})") from None
        except ParseError as exc:
            raise exc.at(f"tags[{str(mac_key)[:40]!r}]") from None
        result.reads.append(TagRead(tag_id=sensor_id, read_point=gw_mac, first_seen=when, last_seen=when, rssi=rssi))
        if frame is not None:
            samples, health = observations(sensor_id, when, frame)
            result.samples.extend(samples)
            result.health.append(health)
        elif fmt is not None:
            result.warnings.append(f"tag {sensor_id}: Ruuvi data format {fmt} frame not decoded (formats 3 and 5 are)")
        elif adv:
            result.warnings.append(f"tag {sensor_id}: advertisement holds no RuuviTag data")
    if untimed:
        result.warnings.append(
            f"{untimed} tag(s) without a timestamp (gateway without time): timed at the upload's receive time"
        )
    return result
