"""Minew S1 temperature/humidity sensor frames, as a Minew gateway relays them in ``rawData``.

The S1 advertises Minew's "HT" and "Info" slot frames as BLE service data under
the 16-bit service UUID 0xFFE1 (Minew S1 datasheet and BeaconSET+ app's frame
list; the same layout as decoded by open code such as obniz ``parts/Ble/MINEW_S1``):

=====  =================================================================
byte   HT frame (frame type 0xA1, version 0x01), after the UUID
=====  =================================================================
0      frame type 0xA1
1      version: 0x01 = temperature/humidity, 0x08 = info (battery, name)
2      battery level, percent
3-4    temperature, signed 8.8 fixed point, °C
5-6    humidity, 8.8 fixed point, %RH
7-12   MAC, least significant byte first
=====  =================================================================

Anything else (iBeacon, Eddystone, other vendors' frames) is not an S1 frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

_UUID = (0xE1, 0xFF)  # 0xFFE1, little-endian as on air
_FIXED = Decimal(256)


@dataclass(frozen=True, slots=True)
class S1Frame:
    battery_pct: int
    temperature: Decimal | None  # None for an info frame
    humidity: Decimal | None


class S1FrameError(ValueError):
    """An S1 frame that is cut short."""


def _service_data(adv: bytes) -> bytes | None:
    i, n = 0, len(adv)
    while i < n:
        length = adv[i]
        if length == 0:
            break
        end = min(i + 1 + length, n)
        if length >= 3 and i + 3 < n and adv[i + 1] == 0x16 and (adv[i + 2], adv[i + 3]) == _UUID:
            return adv[i + 4 : end]
        i = end
    return None


def decode_s1(raw_hex: str) -> S1Frame | None:
    """Decode an S1 frame from an advertisement in hex; None when it is not one."""
    try:
        adv = bytes.fromhex(raw_hex)
    except ValueError:
        return None
    data = _service_data(adv)
    if data is None or len(data) < 2 or data[0] != 0xA1 or data[1] not in (0x01, 0x08):
        return None
    if data[1] == 0x08:
        if len(data) < 3:
            raise S1FrameError(f"S1 info frame is {len(data)} bytes, expected at least 3")
        return S1Frame(battery_pct=data[2], temperature=None, humidity=None)
    if len(data) < 7:
        raise S1FrameError(f"S1 temperature/humidity frame is {len(data)} bytes, expected 13")
    temperature = Decimal(int.from_bytes(data[3:5], "big", signed=True)) / _FIXED
    humidity = Decimal(int.from_bytes(data[5:7], "big")) / _FIXED
    return S1Frame(battery_pct=data[2], temperature=temperature, humidity=humidity)
