"""Zebra IoT Connector (ZIOTC) tag data events, as POSTed by FX7500/FX9600/ATR7000.

Follows the ZIOTC documentation (zebradevs.github.io/rfid-ziotc-docs): "What is IoT
Connector?" (Data interface, HTTP POST endpoint), "Controlling Operating Mode",
"Tag Data Batching" and "TagStorage settings" (tag metadata ANTENNA, RSSI,
SEEN_COUNT, ...).  With batching on (the default for HTTP POST) the body is a JSON
array of events; with batching off it is one event object.  Each event::

    {"type": "SIMPLE", "timestamp": "2025-11-18T09:41:07.512+0000",
     "data": {"eventNum": 18231, "format": "epc", "idHex": "331643e6...",
              "antenna": 1, "peakRssi": -52, "reads": 7}}

``timestamp`` and ``data.idHex`` are required; ``antenna``, ``peakRssi`` and
``reads`` (or ``seenCount``) are optional metadata.  The reader's host name or MAC,
when that metadata is enabled (``hostName`` / ``hostname`` / ``MAC``), becomes the
read point; otherwise the read point is ``":<antenna>"``.  ``eventNum`` restarts
with the radio service, so it is not an upload key (``upload_key`` is None).
"""

from __future__ import annotations

from ._common import as_int, as_obj, epc_from_hex, iso_time, load_json, req, rssi_value
from .base import ParseContext, ParseError, ParseResult, TagRead

FORMAT = "zebra_iotc"
_READER_KEYS = ("hostName", "hostname", "MAC", "mac")


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a ZIOTC HTTP POST body (event object or array of events)."""
    doc = load_json(body)
    if type(doc) is dict:
        events = [doc]
    elif type(doc) is list:
        events = doc
    else:
        raise ParseError("expected a ZIOTC event object or an array of events")
    result = ParseResult(format=FORMAT)
    reads = result.reads
    append = reads.append
    other_formats: set[str] = set()
    for i, event in enumerate(events):
        try:
            event = as_obj(event, "event")
            data = as_obj(req(event, "data"), "data")
            seen = iso_time(req(event, "timestamp"), "timestamp")
            tag_id, epc_hex = epc_from_hex(req(data, "idHex"), "data.idHex")
            antenna = data.get("antenna")
            if antenna is not None:
                antenna = as_int(antenna, "data.antenna", minimum=0, maximum=65535)
            count = data.get("reads")
            if count is None:
                count = data.get("seenCount")
            count = 1 if count is None else as_int(count, "data.reads", minimum=1)
            rssi = rssi_value(data.get("peakRssi"), "data.peakRssi")
            reader = ""
            for key in _READER_KEYS:
                value = data.get(key)
                if type(value) is str and value:
                    reader = value
                    break
            fmt = data.get("format")
            if fmt is not None and fmt != "epc":
                other_formats.add(str(fmt)[:20])
        except ParseError as exc:
            raise exc.at(f"event [{i}]") from None
        append(
            TagRead(
                tag_id=tag_id,
                read_point=reader if antenna is None else f"{reader}:{antenna}",
                first_seen=seen,
                last_seen=seen,
                count=count,
                rssi=rssi,
                epc_hex=epc_hex,
                antenna=antenna,
            )
        )
    if other_formats:
        result.warnings.append(
            f"data.format other than 'epc' ({', '.join(sorted(other_formats))}): idHex treated as EPC"
        )
    return result
