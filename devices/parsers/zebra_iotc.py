"""Zebra IoT Connector (ZIOTC) tag data events, as FX7500/FX9600/ATR7000/FXR90 post them.

Follows the ZIOTC documentation (zebradevs.github.io/rfid-ziotc-docs): "What is IoT
Connector?" (Data interface, HTTP POST and MQTT endpoints), "Controlling Operating
Mode" (Simple, Inventory, Portal, Conveyor, Directionality, Custom), "Tag Data
Batching" and "TagStorage settings" (tag metadata PC, CRC, ANTENNA, RSSI, PHASE,
CHANNEL, SEEN_COUNT, EPC, TID, USER, XPC).  With batching on (the default for HTTP
POST) the body is a JSON array of events; with batching off, or one MQTT message,
one event; a stream of events one per line is accepted too.  Each event::

    {"type": "SIMPLE", "timestamp": "2025-11-18T09:41:07.512+0000",
     "data": {"eventNum": 18231, "format": "epc", "idHex": "331643e6...",
              "antenna": 1, "peakRssi": -52, "reads": 7}}

``timestamp`` and ``data.idHex`` are required for tag events of every operating
mode (``type`` SIMPLE, INVENTORY, PORTAL, CONVEYOR, DIRECTIONALITY or CUSTOM; a
CUSTOM event keeps the same ``data`` keys and adds ``userDefined``).  ``format``
``epc`` or ``uii`` (the UII is the EPC bank's identifier) is decoded as an EPC;
``tid`` means ``idHex`` is the TID, kept as an opaque ``epc:hex`` id with the TID
on the read.  Optional metadata: ``antenna``, ``peakRssi``, ``reads``/``seenCount``,
``channel``, ``phase``, ``TID``/``tid``, ``eventNum`` (kept as the read's sequence).
The host name or MAC, when enabled, becomes the read point (else ``":<antenna>"``).

Events that are not RFID tag reads (an FXR90's BLE beacons, GPI, heartbeats: any
other ``type`` or no ``idHex``) are skipped with a warning, never failing the upload.
``eventNum`` restarts with the radio service, so it is not an upload key.
"""

from __future__ import annotations

from ._common import (
    as_int,
    as_obj,
    epc_from_hex,
    hex_value,
    iso_time,
    label,
    load_json_records,
    opt_float,
    opt_int,
    req,
    rssi_value,
)
from .base import ParseContext, ParseError, ParseResult, TagRead

FORMAT = "zebra_iotc"
_READER_KEYS = ("hostName", "hostname", "MAC", "mac")
_TAG_TYPES = frozenset({"SIMPLE", "INVENTORY", "PORTAL", "CONVEYOR", "DIRECTIONALITY", "CUSTOM"})
_EPC_FORMATS = frozenset({"epc", "uii"})
# Keys of the BLE events an FXR90 reports next to RFID: such an event is not a tag read.
_BLE_KEYS = frozenset({"macAddress", "bleMac", "advData", "advertisement", "bleData", "beaconId", "uuid"})


def _channel(value: object) -> int | None:
    """The channel as reported: an index (integer) or a frequency in MHz (kept in kHz)."""
    if value is None or type(value) is int:
        return opt_int(value, "data.channel", minimum=0)
    mhz = opt_float(value, "data.channel")
    return None if mhz is None else round(mhz * 1000)


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a ZIOTC HTTP POST body or MQTT message (event, array of events, or NDJSON)."""
    events, lines = load_json_records(body)
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    skipped: dict[str, int] = {}
    for i, event in enumerate(events):
        try:
            event = as_obj(event, "event")
            event_type = event.get("type")
            data = event.get("data")
            other_radio = type(data) is dict and "idHex" not in data and not _BLE_KEYS.isdisjoint(data)
            if (event_type is not None and str(event_type).upper() not in _TAG_TYPES) or other_radio:
                key = str(event_type)[:40]
                skipped[key] = skipped.get(key, 0) + 1
                continue
            data = as_obj(req(event, "data"), "data")
            seen = iso_time(req(event, "timestamp"), "timestamp")
            fmt = str(data.get("format") or "epc").lower()
            id_hex = req(data, "idHex")
            tid = data.get("TID", data.get("tid"))
            tid = None if tid in (None, "") else hex_value(tid, "data.TID")
            if fmt in _EPC_FORMATS:
                tag_id, epc_hex = epc_from_hex(id_hex, "data.idHex")
            elif fmt == "tid":
                tid = hex_value(id_hex, "data.idHex")
                tag_id, epc_hex = f"epc:hex:{tid}", None
            else:
                raise ParseError(f"data.format: {fmt[:20]!r} is not epc, uii or tid")
            antenna = opt_int(data.get("antenna"), "data.antenna", minimum=0, maximum=65535)
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
            phase = opt_float(data.get("phase"), "data.phase")
            channel = _channel(data.get("channel"))
            sequence = opt_int(data.get("eventNum"), "data.eventNum", minimum=0)
        except ParseError as exc:
            raise exc.at(f"event {label(i, lines)}") from None
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
                phase=phase,
                channel=channel,
                tid=tid,
                sequence=sequence,
            )
        )
    for event_type, n in sorted(skipped.items()):
        result.warnings.append(f"skipped {n} non-RFID event(s) of type {event_type!r}")
    return result
