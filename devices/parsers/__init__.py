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
from datetime import datetime

from . import (
    csv_reads,
    epcis2,
    gs1_scans,
    impinj_iot,
    impinj_speedway,
    llrp_json,
    machine_state,
    minew_ble,
    ruuvi_gateway,
    zebra_iotc,
)
from ._common import configure_company_prefixes
from .base import DeviceHealth, MachineState, ParseContext, ParseError, ParseResult, Scan, SensorSample, TagRead
from .framing import frame

__all__ = [
    "PARSERS",
    "DeviceHealth",
    "MachineState",
    "ParseContext",
    "ParseError",
    "ParseResult",
    "Scan",
    "SensorSample",
    "TagRead",
    "configure_company_prefixes",
    "parse",
]

# Every parser is ``parse(body, ctx=None)``; ``ctx`` (a ParseContext) is optional.
PARSERS: dict[str, Callable[..., ParseResult]] = {
    zebra_iotc.FORMAT: zebra_iotc.parse,
    impinj_iot.FORMAT: impinj_iot.parse,
    impinj_speedway.FORMAT: impinj_speedway.parse,
    llrp_json.FORMAT: llrp_json.parse,
    minew_ble.FORMAT: minew_ble.parse,
    ruuvi_gateway.FORMAT: ruuvi_gateway.parse,
    gs1_scans.FORMAT: gs1_scans.parse,
    csv_reads.FORMAT: csv_reads.parse,
    epcis2.FORMAT: epcis2.parse,
    machine_state.FORMAT: machine_state.parse,
}


def parse(
    format: str,  # the documented signature
    body: bytes,
    *,
    content_type: str | None = None,
    received_at: datetime | None = None,
) -> ParseResult:
    """Parse ``body`` with the parser registered for ``format``.

    ``content_type`` is the declared Content-Type: the body must match it (see
    :mod:`devices.parsers.framing`); None skips the check.  ``received_at`` is the
    time used for reads whose device sent no wall-clock time (the parser says so
    in a warning).
    """
    try:
        parser = PARSERS[format]
    except (KeyError, TypeError):
        raise ParseError(f"unknown upload format {format!r}; known: {', '.join(sorted(PARSERS))}") from None
    media_kind = "any"
    if content_type is not None:
        body, media = frame(body, content_type, upload_format=format)
        media_kind = media.kind
    return parser(body, ParseContext(received_at=received_at, media_kind=media_kind))
