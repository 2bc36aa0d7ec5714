"""Impinj IoT Device Interface events (R700/R720, firmware 7.x/8.x).

Follows Impinj "IoT Device Interface API - Overview" (support.impinj.com article
32123172324755) and the Reader Configuration REST API (OpenAPI "version 1.6.0"),
with field names as consumed by reelyactive/barnowl-impinj ``lib/impinjdecoder.js``.
The webhook POSTs a JSON *array* of events; ``GET /api/v1/data/stream`` (and MQTT)
deliver the same objects one per line, so this parser accepts a JSON array, a
single event object, or newline-delimited JSON (blank keep-alive lines skipped).

``tagInventory`` events carry ``tagInventoryEvent`` with ``epcHex`` (hex) or ``epc``
(base64), ``antennaPort``, ``peakRssiCdbm`` (centi-dBm), ``lastSeenTime``
(ISO 8601, the observation time; falls back to the event ``timestamp``).  The read
point is ``<hostname>:<antennaPort>``.  Other event types that describe the reader
(``antennaConnected``, ``antennaDisconnected``, ``inventoryStatus``,
``inventoryTerminated``, ``diagnostic``, ``overflow``, ``keepalive``, ``status``,
``gpiTransition``...) become DeviceHealth entries whose ``extra`` holds ``event``
plus the payload's scalar fields; ``overflow`` (the reader dropped events) also
adds a warning.  Non-tag events are never a rejection: unknown event types are
ignored with a warning.

Deliveries (one parser for all): the webhook (a JSON array per POST), the HTTP
stream and MQTT (one event per line or per message, as NDJSON), pretty-printed
or not.  Reader metadata the preset's ``eventConfig.tagInventory`` switches on is
kept on the read: ``tidHex``/``tid`` (hex/base64), ``phaseAngle`` (degrees),
``frequency`` (kHz, as the channel) and ``tagSeenCount``.
"""

from __future__ import annotations

from typing import Any

from ._common import (
    as_float,
    as_int,
    as_obj,
    as_str,
    base64_value,
    epc_from_base64,
    epc_from_hex,
    hex_value,
    iso_time,
    label,
    load_json_records,
    opt_str,
    req,
    rssi_value,
)
from .base import DeviceHealth, ParseContext, ParseError, ParseResult, TagRead

FORMAT = "impinj_iot"
_HEALTH_EVENTS = frozenset(
    {
        "antennaConnected",
        "antennaDisconnected",
        "inventoryStatus",
        "inventoryTerminated",
        "diagnostic",
        "overflow",
        "keepalive",
        "keepAlive",
        "status",
        "readerStatus",
        "gpiTransition",
        "gpoTransition",
    }
)


def _scalars(payload: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k)[:64], str(v)[:256]) for k, v in sorted(payload.items()) if type(v) in (str, int, float, bool))


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse an Impinj IoT webhook body or a chunk of its HTTP/MQTT stream."""
    events, lines = load_json_records(body)
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    ignored: dict[str, int] = {}
    for i, event in enumerate(events):
        try:
            event = as_obj(event, "event")
            event_type = as_str(req(event, "eventType"), "eventType")
            hostname = opt_str(event.get("hostname"), "hostname") or ""
            if event_type == "tagInventory":
                tag = as_obj(req(event, "tagInventoryEvent"), "tagInventoryEvent")
                if "epcHex" in tag:
                    tag_id, epc_hex = epc_from_hex(tag["epcHex"], "tagInventoryEvent.epcHex")
                elif "epc" in tag:
                    tag_id, epc_hex = epc_from_base64(tag["epc"], "tagInventoryEvent.epc")
                else:
                    raise ParseError("tagInventoryEvent: missing field 'epcHex' (or 'epc')")
                seen_raw = tag.get("lastSeenTime")
                if seen_raw is not None:
                    seen = iso_time(seen_raw, "tagInventoryEvent.lastSeenTime")
                else:
                    seen = iso_time(req(event, "timestamp"), "timestamp")
                antenna = tag.get("antennaPort")
                if antenna is not None:
                    antenna = as_int(antenna, "tagInventoryEvent.antennaPort", minimum=0, maximum=65535)
                rssi = rssi_value(tag.get("peakRssiCdbm"), "tagInventoryEvent.peakRssiCdbm", scale=100)
                count = tag.get("tagSeenCount")
                count = 1 if count is None else as_int(count, "tagInventoryEvent.tagSeenCount", minimum=1)
                tid = None
                if tag.get("tidHex") is not None:
                    tid = hex_value(tag["tidHex"], "tagInventoryEvent.tidHex")
                elif tag.get("tid") is not None:
                    tid = base64_value(tag["tid"], "tagInventoryEvent.tid")
                phase = tag.get("phaseAngle")
                phase = None if phase is None else as_float(phase, "tagInventoryEvent.phaseAngle")
                channel = tag.get("frequency")
                channel = None if channel is None else as_int(channel, "tagInventoryEvent.frequency", minimum=0)
                append(
                    TagRead(
                        tag_id=tag_id,
                        read_point=hostname if antenna is None else f"{hostname}:{antenna}",
                        first_seen=seen,
                        last_seen=seen,
                        count=count,
                        rssi=rssi,
                        epc_hex=epc_hex,
                        antenna=antenna,
                        phase=phase,
                        channel=channel,
                        tid=tid,
                    )
                )
            elif event_type in _HEALTH_EVENTS:
                when = event.get("timestamp")
                if when is None and ctx is not None and ctx.received_at is not None:
                    observed = ctx.received_at  # a keepalive may carry no time of its own
                else:
                    observed = iso_time(req(event, "timestamp"), "timestamp")
                payload = event.get(f"{event_type}Event")
                extra: tuple[tuple[str, str], ...] = (("event", event_type),)
                if type(payload) is dict:
                    extra += _scalars(payload)
                result.health.append(DeviceHealth(device_ref=hostname, observed_at=observed, extra=extra))
                if event_type == "overflow":
                    result.warnings.append(
                        f"{label(i, lines)}: reader {hostname!r} reported an overflow (events dropped)"
                    )
            else:
                key = event_type[:40]
                ignored[key] = ignored.get(key, 0) + 1
        except ParseError as exc:
            raise exc.at(f"event {label(i, lines)}") from None
    for event_type, n in sorted(ignored.items()):
        result.warnings.append(f"ignored {n} event(s) of unsupported type {event_type!r}")
    return result
