"""Impinj Speedway Connect tag reports (Inventory mode, JSON output, HTTP Post).

Follows Impinj support article 360000044739 "Impinj Speedway Connect on-reader
software Data Integration": in Inventory mode each tag report is a JSON object with
``antennaPort``, ``epc`` (hex), optional ``tid``, ``firstSeenTimestamp`` (ISO 8601
UTC, microseconds), ``peakRssi`` (dBm) and ``isHeartBeat``.  A POST body holds a
batch of reports, one per line (NDJSON); a JSON array or a single object is also
accepted.

Heartbeats (``isHeartBeat: true``) carry no tag: when they carry a time
(``timestamp`` or ``firstSeenTimestamp``) they become a DeviceHealth entry,
otherwise they are skipped (the upload itself shows the reader is alive).
Location / Direction mode records (xArray) are rejected with a clear reason.
The reader name is not in the body unless a ``readerName`` / ``hostname`` field is
configured, so the read point is normally ``":<antennaPort>"``.

Not supported (could not be confirmed from the vendor docs we hold): the
key-value output format and ``application/x-www-form-urlencoded`` envelopes.
"""

from __future__ import annotations

from ._common import as_int, as_obj, epc_from_hex, iso_time, label, load_json_records, req, rssi_value
from .base import DeviceHealth, ParseContext, ParseError, ParseResult, TagRead

FORMAT = "impinj_speedway"
_LOCATION_KEYS = frozenset({"x", "y", "xCm", "yCm", "confidence", "direction", "locationConfidence"})
_READER_KEYS = ("readerName", "hostname", "hostName")


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a Speedway Connect HTTP Post body (NDJSON tag reports)."""
    records, lines = load_json_records(body)
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    for i, rec in enumerate(records):
        try:
            rec = as_obj(rec, "record")
            reader = ""
            for key in _READER_KEYS:
                value = rec.get(key)
                if type(value) is str and value:
                    reader = value
                    break
            heartbeat = rec.get("isHeartBeat", False)
            if type(heartbeat) is not bool:
                raise ParseError(f"isHeartBeat: expected boolean, got {type(heartbeat).__name__}")
            if heartbeat:
                when = rec.get("timestamp", rec.get("firstSeenTimestamp"))
                if when is not None:
                    observed = iso_time(when, "timestamp")
                    result.health.append(
                        DeviceHealth(device_ref=reader, observed_at=observed, extra=(("heartbeat", "true"),))
                    )
                continue
            if "epc" not in rec:
                found = sorted(_LOCATION_KEYS.intersection(rec))
                if found:
                    raise ParseError(
                        "Location/Direction mode record (fields "
                        + ", ".join(found)
                        + ") is not supported; configure Inventory mode"
                    )
            tag_id, epc_hex = epc_from_hex(req(rec, "epc"), "epc")
            seen = iso_time(req(rec, "firstSeenTimestamp"), "firstSeenTimestamp")
            last_raw = rec.get("lastSeenTimestamp")
            last = seen if last_raw is None else iso_time(last_raw, "lastSeenTimestamp")
            antenna = rec.get("antennaPort")
            if antenna is not None:
                antenna = as_int(antenna, "antennaPort", minimum=0, maximum=65535)
            count = rec.get("tagReadCount")
            count = 1 if count is None else as_int(count, "tagReadCount", minimum=1)
            rssi = rssi_value(rec.get("peakRssi"), "peakRssi")
        except ParseError as exc:
            raise exc.at(label(i, lines)) from None
        append(
            TagRead(
                tag_id=tag_id,
                read_point=reader if antenna is None else f"{reader}:{antenna}",
                first_seen=min(seen, last),
                last_seen=max(seen, last),
                count=count,
                rssi=rssi,
                epc_hex=epc_hex,
                antenna=antenna,
            )
        )
    return result
