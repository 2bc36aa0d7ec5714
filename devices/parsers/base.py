"""Public data types shared by every device-upload parser.

A parser is a pure function ``bytes -> ParseResult``: it turns one raw upload body
(as a reader, gateway, handheld or partner system sent it) into normalised
observations.  It never touches the database and never raises anything but
:class:`ParseError`.  See DESIGN.md section 3 ("The flow of a read").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

__all__ = [
    "DeviceHealth",
    "MachineState",
    "ParseContext",
    "ParseError",
    "ParseResult",
    "Scan",
    "SensorSample",
    "TagRead",
]


@dataclass(frozen=True, slots=True)
class TagRead:
    """One (aggregated) sighting of a tag by a reader antenna or BLE gateway.

    ``tag_id`` is canonical: an EPC pure-identity URI when the EPC is GS1-decodable,
    ``epc:hex:<UPPERHEX>`` otherwise, ``ble:<aa:bb:..>`` for BLE MACs and
    ``ibeacon:<uuid>:<major>:<minor>`` for iBeacons.  ``read_point`` is the reader
    name as reported plus ``:<antenna>``; it is ``""`` / ``":<antenna>"`` when the
    body does not name the reader (the pipeline prefixes the device id).
    """

    tag_id: str
    read_point: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    rssi: float | None = None
    epc_hex: str | None = None
    antenna: int | None = None
    # Reader metadata, kept when the reader sends it (None otherwise): RF phase in
    # degrees, channel (index or frequency in kHz, as the reader reports it), the
    # tag's TID in upper-case hex, and the reader's own event/report sequence number.
    phase: float | None = None
    channel: int | None = None
    tid: str | None = None
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class SensorSample:
    """One measured value (temperature in °C, humidity in %RH, pressure in Pa, ...)."""

    sensor_id: str
    metric: str
    value: Decimal
    unit: str
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A health figure about a device, gateway or tag (battery, firmware, load)."""

    device_ref: str
    observed_at: datetime
    battery_pct: Decimal | None = None
    battery_voltage: Decimal | None = None
    firmware: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Scan:
    """One barcode scan, with the GS1 data it carries when it carries any.

    ``action`` and ``seq`` (the handheld's per-device sequence number) are copied
    from the scan envelope when present; they were added after the first draft of
    this interface because the pipeline needs the action to pick a business effect.
    """

    raw: str
    scanned_at: datetime
    scanner_ref: str
    symbology: str | None
    gtin: str | None
    lot: str | None
    serial: str | None
    expiry: date | None
    sscc: str | None
    gln: str | None
    grai: str | None
    quantity: Decimal | None
    elements: tuple[tuple[str, str], ...]
    location_ext: str | None
    tag_id: str | None
    action: str | None = None
    seq: int | None = None
    # Envelope fields a handheld app may add to an action scan (see gs1_scans):
    # where it happens (location codes), its reference and a typed quantity.
    location: str | None = None
    to_location: str | None = None
    reference: str | None = None
    typed_quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MachineState:
    """What a machine says it is doing from ``at`` on (``machine_state`` events):
    ``station`` its workstation code, ``state`` as reported (see
    ``devices.parsers.machine_state.STATES``), ``reason`` a stop reason code."""

    station: str
    state: str
    at: datetime
    reason: str | None = None
    device_ref: str = ""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser may know besides the body: when the upload was received (the
    time of reads whose device sent no usable clock) and the declared media kind
    (see :mod:`devices.parsers.framing`)."""

    received_at: datetime | None = None
    media_kind: str = "any"


@dataclass(slots=True)
class ParseResult:
    """Everything one upload body contained, normalised."""

    format: str
    upload_key: str | None = None
    reads: list[TagRead] = field(default_factory=list)
    samples: list[SensorSample] = field(default_factory=list)
    health: list[DeviceHealth] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    epcis_events: list[dict] = field(default_factory=list)
    machine_states: list[MachineState] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ParseError(ValueError):
    """The body cannot be parsed; ``reason`` names the field, line or index at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def at(self, where: str) -> ParseError:
        """Return a new error whose reason is prefixed with a location."""
        return ParseError(f"{where}: {self.reason}")
