"""RuuviTag data formats 5 ("RAWv2") and 3 ("RAWv1") decoders, for BLE advertisements relayed as hex.

Follows the Ruuvi sensor protocol specification "Data format 5 (RAWv2)"
(docs.ruuvi.com; the same rules as ``ruuvi-decoders`` ``Df5Decoder``).  The
manufacturer-specific AD structure (type 0xFF, company id 0x0499 little-endian)
carries 24 bytes:

====  ======================================================  =============
byte  field                                                   invalid value
====  ======================================================  =============
0     format (5)
1-2   temperature, int16, 0.005 °C steps                      0x8000
3-4   humidity, uint16, 0.0025 % steps                        0xFFFF
5-6   pressure, uint16, Pa minus 50000                        0xFFFF
7-12  acceleration x, y, z, int16, mG                         0x8000
13-14 power: 11 bits battery mV above 1600, 5 bits tx power   0x7FF / 0x1F
      (-40 dBm + 2 dBm steps)
15    movement counter, uint8                                 0xFF
16-17 measurement sequence, uint16                            0xFFFF
18-23 MAC                                                     FF..FF
====  ======================================================  =============

Invalid (sentinel) values are left out of the result.

Data format 3 ("RAWv1", docs.ruuvi.com "Data format 3 (RAWv1)", older firmware)
carries 14 bytes: format (3); humidity uint8 in 0.5 % steps; temperature as a
sign bit plus 7 bits of whole degrees and a byte of hundredths; pressure uint16
Pa minus 50000; acceleration x, y, z int16 mG; battery uint16 mV.  It has no
sentinels, no sequence and no MAC.

A Ruuvi manufacturer payload of format 3 or 5 that is shorter than its format
says is a :class:`FrameError` (the parsers decide whether that rejects the upload).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from .base import DeviceHealth, SensorSample

_HEX = frozenset("0123456789abcdefABCDEF")
_T_STEP = Decimal("0.005")
_H_STEP = Decimal("0.0025")
_MV = Decimal(1000)
_G = Decimal(1000)


@dataclass(frozen=True, slots=True)
class Df5:
    """Decoded RAWv2 frame; None where the sensor sent the invalid marker."""

    temperature: Decimal | None  # °C
    humidity: Decimal | None  # %RH
    pressure: Decimal | None  # Pa
    acceleration: tuple[Decimal | None, Decimal | None, Decimal | None]  # g
    battery_voltage: Decimal | None  # V
    tx_power: int | None  # dBm
    movement_counter: int | None
    sequence: int | None
    mac: str | None  # aa:bb:cc:dd:ee:ff
    data_format: int = 5


class FrameError(ValueError):
    """A Ruuvi frame of a known format that cannot be decoded (truncated)."""


def _s16(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 2], "big", signed=True)


def _u16(b: bytes, i: int) -> int:
    return (b[i] << 8) | b[i + 1]


def decode_payload(p: bytes) -> Df5 | None:
    """Decode the 24-byte RAWv2 payload (starting with the format byte 5)."""
    if len(p) < 24 or p[0] != 5:
        return None
    t = _s16(p, 1)
    h = _u16(p, 3)
    pr = _u16(p, 5)
    acc = tuple(None if (a := _s16(p, i)) == -0x8000 else Decimal(a) / _G for i in (7, 9, 11))
    power = _u16(p, 13)
    mv = power >> 5
    tx = power & 0x1F
    mac = p[18:24]
    return Df5(
        temperature=None if t == -0x8000 else t * _T_STEP,
        humidity=None if h == 0xFFFF else h * _H_STEP,
        pressure=None if pr == 0xFFFF else Decimal(pr + 50000),
        acceleration=acc,  # type: ignore[arg-type]
        battery_voltage=None if mv == 0x7FF else Decimal(mv + 1600) / _MV,
        tx_power=None if tx == 0x1F else -40 + 2 * tx,
        movement_counter=None if p[15] == 0xFF else p[15],
        sequence=None if (seq := _u16(p, 16)) == 0xFFFF else seq,
        mac=None if mac == b"\xff" * 6 else ":".join(f"{x:02x}" for x in mac),
    )


def decode_df3(p: bytes) -> Df5:
    """Decode the 14-byte RAWv1 payload (starting with the format byte 3) into the common frame."""
    if len(p) < 14 or p[0] != 3:
        raise FrameError(f"data format 3 frame is {len(p)} bytes, expected 14")
    whole = p[2] & 0x7F
    temperature = Decimal(whole) + Decimal(p[3]) / 100
    if p[2] & 0x80:
        temperature = -temperature
    return Df5(
        temperature=temperature,
        humidity=Decimal(p[1]) / 2,
        pressure=Decimal(_u16(p, 4) + 50000),
        acceleration=tuple(Decimal(_s16(p, i)) / _G for i in (6, 8, 10)),  # type: ignore[arg-type]
        battery_voltage=Decimal(_u16(p, 12)) / _MV,
        tx_power=None,
        movement_counter=None,
        sequence=None,
        mac=None,
        data_format=3,
    )


def ruuvi_payload(adv: bytes) -> bytes | None:
    """Find Ruuvi manufacturer data (company 0x0499) in BLE AD structures."""
    i = 0
    n = len(adv)
    while i < n:
        length = adv[i]
        if length == 0:
            break
        end = i + 1 + length
        if i + 3 < n and adv[i + 1] == 0xFF and length >= 3 and adv[i + 2] == 0x99 and adv[i + 3] == 0x04:
            return adv[i + 4 : min(end, n)]  # a cut-off structure still says it is Ruuvi data
        if end > n:
            break
        i = end
    return None


@lru_cache(maxsize=4096)
def decode_hex(value: str) -> tuple[int | None, Df5 | None]:
    """Decode an advertisement (AD structures) or a bare manufacturer payload in hex.

    Returns ``(data_format, frame)``: ``(None, None)`` when it is not hex or holds no
    Ruuvi manufacturer data; ``(fmt, None)`` for a Ruuvi format other than 3 and 5.
    Raises FrameError for a format 3 or 5 frame that is too short.
    """
    if len(value) % 2 or len(value) > 1024 or not _HEX.issuperset(value):
        return None, None
    raw = bytes.fromhex(value)
    payload = ruuvi_payload(raw)
    if payload is None:
        if len(raw) == 24 and raw[0] == 5:
            payload = raw
        elif len(raw) >= 3 and raw[0] == 0x99 and raw[1] == 0x04:
            payload = raw[2:]
        else:
            return None, None
    if not payload:
        return None, None
    if payload[0] == 3:
        return 3, decode_df3(payload)
    if payload[0] != 5:
        return payload[0], None
    if len(payload) < 24:
        raise FrameError(f"data format 5 frame is {len(payload)} bytes, expected 24")
    return 5, decode_payload(payload)


def observations(sensor_id: str, observed_at: datetime, frame: Df5) -> tuple[list[SensorSample], DeviceHealth]:
    """Sensor samples and the tag's health figure from one decoded frame."""
    samples: list[SensorSample] = []

    def add(metric: str, value: Decimal | None, unit: str) -> None:
        if value is not None:
            samples.append(SensorSample(sensor_id, metric, value, unit, observed_at))

    add("temperature", frame.temperature, "°C")
    add("humidity", frame.humidity, "%RH")
    add("pressure", frame.pressure, "Pa")
    for axis, value in zip("xyz", frame.acceleration, strict=True):
        add(f"acceleration_{axis}", value, "g")
    add("battery_voltage", frame.battery_voltage, "V")
    if frame.tx_power is not None:
        add("tx_power", Decimal(frame.tx_power), "dBm")
    if frame.movement_counter is not None:
        add("movement_counter", Decimal(frame.movement_counter), "count")
    extra: list[tuple[str, str]] = [("data_format", str(frame.data_format))]
    if frame.sequence is not None:
        extra.append(("measurement_sequence", str(frame.sequence)))
    if frame.tx_power is not None:
        extra.append(("tx_power_dbm", str(frame.tx_power)))
    if frame.mac is not None:
        extra.append(("mac", frame.mac))
    health = DeviceHealth(
        device_ref=sensor_id,
        observed_at=observed_at,
        battery_voltage=frame.battery_voltage,
        extra=tuple(extra),
    )
    return samples, health
