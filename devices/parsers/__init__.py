"""Pure parsers for device uploads: ``bytes -> ParseResult``, one module per format.

Usage::

    from devices.parsers import parse, ParseError
    result = parse("zebra_iotc", body)   # raises ParseError on any bad body

Every parser only raises :class:`ParseError` (with a ``reason`` naming the field,
line or index at fault), never touches the database and ignores unknown fields.
Times come out as aware UTC datetimes; tag ids are canonical (see
:class:`TagRead`).  The vendor document each format follows is named in its
module's docstring.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    csv_reads,
    epcis2,
    gs1_scans,
    impinj_iot,
    impinj_speedway,
    llrp_json,
    minew_ble,
    ruuvi_gateway,
    zebra_iotc,
)
from ._common import configure_company_prefixes
from .base import DeviceHealth, ParseError, ParseResult, Scan, SensorSample, TagRead

__all__ = [
    "PARSERS",
    "DeviceHealth",
    "ParseError",
    "ParseResult",
    "Scan",
    "SensorSample",
    "TagRead",
    "configure_company_prefixes",
    "parse",
]

PARSERS: dict[str, Callable[[bytes], ParseResult]] = {
    zebra_iotc.FORMAT: zebra_iotc.parse,
    impinj_iot.FORMAT: impinj_iot.parse,
    impinj_speedway.FORMAT: impinj_speedway.parse,
    llrp_json.FORMAT: llrp_json.parse,
    minew_ble.FORMAT: minew_ble.parse,
    ruuvi_gateway.FORMAT: ruuvi_gateway.parse,
    gs1_scans.FORMAT: gs1_scans.parse,
    csv_reads.FORMAT: csv_reads.parse,
    epcis2.FORMAT: epcis2.parse,
}


def parse(format: str, body: bytes) -> ParseResult:  # noqa: A002 - the documented signature
    """Parse ``body`` with the parser registered for ``format``."""
    try:
        parser = PARSERS[format]
    except (KeyError, TypeError):
        raise ParseError(f"unknown upload format {format!r}; known: {', '.join(sorted(PARSERS))}") from None
    return parser(body)
