"""Upload bodies in the vendors' own formats, as the real devices send them.

Each writer follows the same documents the parsers in ``devices.parsers`` do
(see the notes next to the examples in ``devices/tests/uploads/``):

* Zebra IoT Connector, SIMPLE mode, HTTP POST with batching: a JSON array of
  ``{"type": "SIMPLE", "timestamp", "data": {"eventNum", "format": "epc",
  "idHex", "antenna", "peakRssi", "reads"}}``.
* Impinj IoT Device Interface ``tagInventory`` events (R700 webhook): a JSON
  array of ``{"timestamp", "hostname", "eventType": "tagInventory",
  "tagInventoryEvent": {"epc" (base64), "epcHex", "antennaPort",
  "peakRssiCdbm", "lastSeenTime", ...}}``.
* Ruuvi Gateway time-stamped HTTP format with RuuviTag data format 5 frames.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from epcpy.epc_schemes.grai import GRAI, GRAIFilterValue
from epcpy.epc_schemes.sscc import SSCC, SSCCFilterValue


@dataclass(frozen=True)
class Read:
    """One reader report of a tag: ``reads`` inventory rounds at ``at`` with ``rssi`` dBm."""

    epc: str  # pure identity URI
    antenna: int
    at: dt.datetime
    rssi: float
    reads: int = 1


@lru_cache(maxsize=4096)
def epc_hex(epc: str) -> str:
    """The 96-bit tag encoding of a GRAI or SSCC pure identity, as the reader reports it."""
    if epc.startswith("urn:epc:id:grai:"):
        return GRAI(epc).hex(
            binary_coding_scheme=GRAI.BinaryCodingScheme.GRAI_96, filter_value=GRAIFilterValue.ALL_OTHERS
        )
    if epc.startswith("urn:epc:id:sscc:"):
        return SSCC(epc).hex(
            binary_coding_scheme=SSCC.BinaryCodingScheme.SSCC_96, filter_value=SSCCFilterValue.ALL_OTHERS
        )
    raise ValueError(f"the simulator writes GRAI and SSCC tags only, not {epc!r}")


def _zebra_time(at: dt.datetime) -> str:
    # ZIOTC writes milliseconds and a numeric offset without a colon: 2025-11-18T09:41:07.512+0000
    at = at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _iso_z(at: dt.datetime, digits: int = 3) -> str:
    at = at.astimezone(dt.UTC)
    frac = f"{at.microsecond:06d}"[:digits]
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def zebra_iotc(reads: list[Read], *, first_event_num: int) -> bytes:
    """A batched ZIOTC HTTP POST body (SIMPLE mode, metadata ANTENNA + RSSI + SEEN_COUNT)."""
    events = [
        {
            "type": "SIMPLE",
            "timestamp": _zebra_time(r.at),
            "data": {
                "eventNum": first_event_num + i,
                "format": "epc",
                "idHex": epc_hex(r.epc).lower(),
                "antenna": r.antenna,
                "peakRssi": round(r.rssi),
                "reads": r.reads,
            },
        }
        for i, r in enumerate(reads)
    ]
    return json.dumps(events, separators=(",", ":")).encode()


def impinj_iot(reads: list[Read], *, hostname: str) -> bytes:
    """An Impinj IoT Device Interface webhook body: ``tagInventory`` events."""
    events = []
    for r in reads:
        hex_ = epc_hex(r.epc)
        events.append(
            {
                "timestamp": _iso_z(r.at),
                "hostname": hostname,
                "eventType": "tagInventory",
                "tagInventoryEvent": {
                    "epc": base64.b64encode(bytes.fromhex(hex_)).decode(),
                    "epcHex": hex_,
                    "antennaPort": r.antenna,
                    "antennaName": f"port {r.antenna}",
                    "peakRssiCdbm": int(round(r.rssi * 100)),
                    "frequency": 915250,
                    "transmitPowerCdbm": 3000,
                    "tagSeenCount": r.reads,
                    "lastSeenTime": _iso_z(r.at, 6),
                },
            }
        )
    return json.dumps(events, separators=(",", ":")).encode()


def ruuvi_df5(
    *,
    temperature: Decimal | float,
    humidity: float,
    pressure_pa: int,
    battery_mv: int,
    sequence: int,
    mac: str,
    movement: int = 0,
    tx_power_dbm: int = 4,
    acceleration_mg: tuple[int, int, int] = (0, 0, 1000),
) -> str:
    """A complete BLE advertisement (flags + manufacturer data) carrying a RuuviTag
    data format 5 ("RAWv2") frame, as hex: what a Ruuvi Gateway relays."""
    t = int(round(float(temperature) / 0.005))
    h = int(round(humidity / 0.0025))
    p = max(0, min(0xFFFE, pressure_pa - 50000))
    power = ((max(0, min(2046, battery_mv - 1600))) << 5) | max(0, min(30, (tx_power_dbm + 40) // 2))
    mac_bytes = bytes(int(b, 16) for b in mac.split(":"))
    payload = (
        struct.pack(">BhHHhhhHBH", 5, t, h, p, *acceleration_mg, power, movement & 0xFF, sequence & 0xFFFF) + mac_bytes
    )
    manufacturer = b"\xff\x99\x04" + payload  # AD type 0xFF, company id 0x0499 little-endian
    ad = bytes([0x02, 0x01, 0x06, len(manufacturer)]) + manufacturer
    return ad.hex().upper()


@dataclass(frozen=True)
class RuuviReport:
    mac: str
    at: dt.datetime
    rssi: int
    temperature: Decimal | float
    humidity: float
    pressure_pa: int
    battery_mv: int
    sequence: int


def ruuvi_gateway(reports: list[RuuviReport], *, gw_mac: str, nonce: int, at: dt.datetime) -> bytes:
    """A Ruuvi Gateway "time-stamped" HTTP POST body (Unix seconds as strings)."""
    tags = {
        r.mac: {
            "rssi": r.rssi,
            "timestamp": str(int(r.at.timestamp())),
            "data": ruuvi_df5(
                temperature=r.temperature,
                humidity=r.humidity,
                pressure_pa=r.pressure_pa,
                battery_mv=r.battery_mv,
                sequence=r.sequence,
                mac=r.mac,
            ),
        }
        for r in reports
    }
    doc = {
        "data": {
            "coordinates": "",
            "timestamp": str(int(at.timestamp())),
            "nonce": str(nonce),
            "gw_mac": gw_mac,
            "tags": tags,
        }
    }
    return json.dumps(doc, separators=(",", ":")).encode()
