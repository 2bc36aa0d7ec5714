"""Impinj Speedway Connect tag reports (Inventory mode), as its HTTP Post output sends them.

Follows Impinj support article 360000044739 "Impinj Speedway Connect on-reader
software Data Integration" (Inventory mode, JSON output: ``antennaPort``, ``epc``
hex, optional ``tid``, ``firstSeenTimestamp``, ``peakRssi`` dBm, ``isHeartBeat``;
the Key-Value Pair output: ``<AntennaPort>,<EPC>,<TID>,<FirstSeenTimestamp>,...``)
and the HTTP Post envelopes the app wraps around them:

* JSON envelope: ``{"reader_name": ..., "mac_address": ..., "tag_reads": [report, ...]}``
  where ``firstSeenTimestamp`` is microseconds since the Unix epoch;
* the form envelope (``application/x-www-form-urlencoded``): ``reader_name``,
  ``mac_address``, ``line_ending``, ``field_delim``, ``field_names`` (e.g.
  ``antenna_port,epc,first_seen_timestamp,peak_rssi,tid``) and ``field_values``
  (one tag per line, values possibly quoted, times in microseconds);
* bare reports: one JSON object per line (NDJSON), a JSON array or one object,
  ``firstSeenTimestamp`` ISO 8601 UTC or epoch microseconds.

The read point is ``<reader_name>:<antennaPort>`` (``":<antennaPort>"`` when the
reader is not named).  Heartbeats (``isHeartBeat: true``) carry no tag: with a
time they become DeviceHealth, else they are skipped.  Location / Direction mode
records (xArray) and the Key-Value output sent as plain text are rejected with a
reason naming the setting to change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._common import (
    as_int,
    as_list,
    as_obj,
    decode_text,
    epc_from_hex,
    epoch_time,
    hex_value,
    iso_time,
    label,
    load_json_records,
    rssi_value,
)
from .base import DeviceHealth, ParseContext, ParseError, ParseResult, TagRead
from .framing import FORM, form_fields

FORMAT = "impinj_speedway"
_LOCATION_KEYS = frozenset({"x", "y", "xCm", "yCm", "confidence", "direction", "locationConfidence", "confidenceData"})
_READER_KEYS = ("reader_name", "readerName", "hostname", "hostName")
#: form field names (Speedway Connect's snake_case) -> JSON report names
_FORM_NAMES = {
    "antenna_port": "antennaPort",
    "epc": "epc",
    "tid": "tid",
    "first_seen_timestamp": "firstSeenTimestamp",
    "last_seen_timestamp": "lastSeenTimestamp",
    "peak_rssi": "peakRssi",
    "tag_read_count": "tagReadCount",
    "is_heartbeat": "isHeartBeat",
}
_MIN_MICROS = 10**15  # 2001-09-09 in microseconds: a smaller count is in another unit
_UNSUPPORTED_OUTPUT = (
    "unsupported Speedway Connect output format (Key-Value Pair text); choose JSON as the output data format"
)


def _time(value: Any, name: str) -> datetime:
    if type(value) is int or (type(value) is str and value.isdigit()):
        if int(value) < _MIN_MICROS:
            raise ParseError(f"{name}: {value} is not microseconds since the epoch (seconds or milliseconds?)")
        return epoch_time(value, name, per_second=1_000_000, allow_str=True)
    return iso_time(value, name)


def _reader(rec: dict[str, Any], default: str) -> str:
    for key in _READER_KEYS:
        value = rec.get(key)
        if type(value) is str and value:
            return value
    return default


def _form_records(body: bytes) -> tuple[list[dict[str, Any]], str]:
    fields = form_fields(body)
    if "field_values" not in fields:
        raise ParseError("form: missing field 'field_values' (Speedway Connect HTTP Post form envelope)")
    names = [n.strip() for n in fields.get("field_names", "antenna_port,epc,first_seen_timestamp,peak_rssi").split(",")]
    delim = fields.get("field_delim") or ","
    ending = fields.get("line_ending") or "\n"
    records = []
    for n, line in enumerate(fields["field_values"].split(ending), start=1):
        line = line.strip("\r\n")
        if not line.strip():
            continue
        values = [v.strip().strip('"') for v in line.split(delim)]
        if len(values) != len(names):
            raise ParseError(f"form field_values line {n}: {len(values)} values for {len(names)} field_names")
        rec: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            key = _FORM_NAMES.get(name, name)
            if key in ("antennaPort", "tagReadCount", "peakRssi") and value.lstrip("-").isdigit():
                rec[key] = int(value)
            elif key == "isHeartBeat":
                rec[key] = value.lower() == "true"
            elif value != "":
                rec[key] = value
        records.append(rec)
    return records, fields.get("reader_name", "")


def _json_records(body: bytes) -> tuple[list[Any], list[int] | None, str]:
    text = decode_text(body).strip()
    if text and text[0] not in "{[":
        raise ParseError(_UNSUPPORTED_OUTPUT)
    records, lines = load_json_records(body)
    if len(records) == 1 and type(records[0]) is dict and "tag_reads" in records[0]:
        envelope = records[0]
        reads = as_list(envelope["tag_reads"], "tag_reads")
        return reads, None, _reader(envelope, "")
    return records, lines, ""


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a Speedway Connect HTTP Post body (JSON envelope, form envelope or reports)."""
    lines: list[int] | None = None
    text_start = decode_text(body).lstrip()[:40]
    is_form = (ctx is not None and ctx.media_kind == FORM) or (
        not text_start.startswith(("{", "[")) and "field_values=" in decode_text(body)
    )
    if is_form:
        records, envelope_reader = _form_records(body)
    else:
        records, lines, envelope_reader = _json_records(body)
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    for i, rec in enumerate(records):
        where = label(i, lines) if not envelope_reader else f"tag_reads[{i}]"
        try:
            rec = as_obj(rec, "record")
            reader = _reader(rec, envelope_reader)
            heartbeat = rec.get("isHeartBeat", False)
            if type(heartbeat) is not bool:
                raise ParseError(f"isHeartBeat: expected boolean, got {type(heartbeat).__name__}")
            if heartbeat:
                when = rec.get("timestamp", rec.get("firstSeenTimestamp"))
                if when is not None:
                    result.health.append(
                        DeviceHealth(
                            device_ref=reader, observed_at=_time(when, "timestamp"), extra=(("heartbeat", "true"),)
                        )
                    )
                continue
            found = sorted(_LOCATION_KEYS.intersection(rec))
            if found:
                raise ParseError(
                    "Location/Direction mode record (fields "
                    + ", ".join(found)
                    + ") is not supported; configure Inventory mode"
                )
            if "epc" not in rec:
                raise ParseError("missing field 'epc'")
            tag_id, epc_hex = epc_from_hex(rec["epc"], "epc")
            if "firstSeenTimestamp" not in rec:
                raise ParseError("missing field 'firstSeenTimestamp'")
            seen = _time(rec["firstSeenTimestamp"], "firstSeenTimestamp")
            last_raw = rec.get("lastSeenTimestamp")
            last = seen if last_raw is None else _time(last_raw, "lastSeenTimestamp")
            antenna = rec.get("antennaPort")
            if antenna is not None:
                antenna = as_int(antenna, "antennaPort", minimum=0, maximum=65535)
            count = rec.get("tagReadCount")
            count = 1 if count is None else as_int(count, "tagReadCount", minimum=1)
            rssi = rssi_value(rec.get("peakRssi"), "peakRssi")
            tid = None if rec.get("tid") in (None, "") else hex_value(rec["tid"], "tid")
        except ParseError as exc:
            raise exc.at(where) from None
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
                tid=tid,
            )
        )
    return result
