"""Machine-state events: what a station's machine says it is doing (OEE).

Shopfloor's own small shape, for a PLC gateway, an OPC UA / MQTT bridge or a
machine's own controller posting state changes as they happen::

    {"type": "machine_state", "station": "WELD-1", "state": "stopped",
     "at": "2026-11-23T07:12:00Z", "reason": "jam"}

One event, an array of them, or one per line (NDJSON). ``station`` is the
workstation code; ``state`` one of ``running``, ``stopped`` (or ``fault``),
``idle``, ``changeover`` (or ``setup``), ``planned_stop``, ``offline`` (or
``off``); ``at`` an ISO 8601 time with offset; ``reason`` (optional) a stop
reason code of the station's site: without one, a stop asks the operator for
its reason on the station page. Records of another ``type`` are skipped with a
warning, so a gateway may mix in events this format does not carry.
"""

from __future__ import annotations

from ._common import as_obj, as_str, iso_time, label, load_json_records, opt_str, req
from .base import MachineState, ParseContext, ParseError, ParseResult

FORMAT = "machine_state"

#: the states a machine may report (wip.services.DEVICE_STATES maps them to station states)
STATES = frozenset({"running", "stopped", "fault", "idle", "changeover", "setup", "planned_stop", "offline", "off"})


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    records, lines = load_json_records(body)
    result = ParseResult(format=FORMAT)
    for i, record in enumerate(records):
        where = label(i, lines)
        try:
            obj = as_obj(record, "event")
            kind = obj.get("type", FORMAT)
            if kind != FORMAT:
                result.warnings.append(f"{where}: skipped an event of type {kind!r}")
                continue
            state = as_str(req(obj, "state"), "state").strip().lower()
            if state not in STATES:
                raise ParseError(f"state: {state!r} is not one of {', '.join(sorted(STATES))}")
            result.machine_states.append(
                MachineState(
                    station=as_str(req(obj, "station"), "station").strip(),
                    state=state,
                    at=iso_time(req(obj, "at"), "at"),
                    reason=(opt_str(obj.get("reason"), "reason") or None),
                    device_ref=opt_str(obj.get("device"), "device") or "",
                )
            )
        except ParseError as exc:
            raise exc.at(where) from None
    return result
