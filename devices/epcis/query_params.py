"""The EPCIS 2.0 query parameters (REST binding names) as an ``EventQuery``.

Every value is checked here, so the selector only ever sees what the database
can take: a time that is not ISO 8601 with an offset, or one that leaves the
range a UTC timestamp can hold, a paging token this server did not issue, a
value with a NUL character (PostgreSQL refuses those in text) is a 400
``query_parameter_invalid`` naming the parameter. A standard EPCIS query
parameter this server does not implement (``EQ_disposition``, ``WD_readPoint``,
``orderBy``...) is a 400 ``query_parameter_unsupported`` rather than a filter
silently ignored: a partner would otherwise take an unfiltered answer for a
filtered one. Parameters outside the EPCIS families (``format``...) are left
to DRF.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from devices.epcis.mapping import bare
from tracker.errors import ValidationFailed

DEFAULT_PAGE, MAX_PAGE = 100, 1000
EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent", "TransactionEvent"}
)
#: Ranks of the merged sources (moves, then the three WIP step phases): the paging token's middle term.
RANKS = range(4)
MAX_PK = 2**63 - 1
MAX_VALUE = 2000

#: Implemented parameters. ``MATCH_anyEPC`` is ``MATCH_epc`` here: exported events have no parentID.
SUPPORTED = frozenset(
    {
        "eventType",
        "GE_eventTime",
        "LT_eventTime",
        "EQ_bizStep",
        "MATCH_epc",
        "MATCH_anyEPC",
        "MATCH_anyEPCClass",
        "EQ_readPoint",
        "EQ_bizLocation",
        "perPage",
        "nextPageToken",
    }
)
#: The names the EPCIS query language is made of (EPCIS 2.0 §8.2.7.1): any other of these is unsupported.
_EPCIS_NAME = re.compile(
    r"^(?:(?:EQ|NE|GT|GE|LT|LE|MATCH|WD|EXISTS|HASATTR|EQATTR|EQ_INNER|GT_INNER|GE_INNER|LT_INNER|LE_INNER)_.+"
    r"|orderBy|orderDirection|eventCountLimit|maxEventCount)$"
)


class QueryParameterInvalid(ValidationFailed):
    code = "query_parameter_invalid"


class QueryParameterUnsupported(ValidationFailed):
    code = "query_parameter_unsupported"


@dataclass(frozen=True)
class EventQuery:
    event_types: frozenset[str] | None = None
    ge_time: dt.datetime | None = None
    lt_time: dt.datetime | None = None
    biz_steps: frozenset[str] | None = None
    epcs: tuple[str, ...] = ()
    epc_classes: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    per_page: int = DEFAULT_PAGE
    after: tuple[dt.datetime, int, int] | None = None


def _values(params: Any, name: str) -> list[str]:
    raw = params.getlist(name) if hasattr(params, "getlist") else ([params[name]] if name in params else [])
    values = [v.strip() for value in raw for v in str(value).replace("|", ",").split(",") if v.strip()]
    for value in values:
        if "\x00" in value:
            raise QueryParameterInvalid(f"{name} holds a NUL character.", field=name)
        if len(value) > MAX_VALUE:
            raise QueryParameterInvalid(f"{name} values are at most {MAX_VALUE} characters.", field=name)
    return values


def _aware_utc(value: dt.datetime, name: str) -> dt.datetime:
    """``value`` in UTC; naive or out of range (year 1 east of UTC, 9999 west of it) is invalid."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise QueryParameterInvalid(f"{name} needs a time zone offset.", field=name)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise QueryParameterInvalid(f"{name} is out of the range of times.", field=name) from None


def _time(params: Any, name: str) -> dt.datetime | None:
    values = _values(params, name)
    if not values:
        return None
    try:
        value = dt.datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        raise QueryParameterInvalid(f"{name} is not an ISO 8601 time: {values[0][:40]!r}.", field=name) from None
    return _aware_utc(value, name)


def encode_token(after: tuple[dt.datetime, int, int]) -> str:
    raw = json.dumps([after[0].isoformat(), after[1], after[2]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[dt.datetime, int, int]:
    name = "nextPageToken"
    invalid = QueryParameterInvalid("nextPageToken is not one this server issued.", field=name)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, rank, pk = json.loads(raw)
        moment, rank, pk = dt.datetime.fromisoformat(when), int(rank), int(pk)
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    if rank not in RANKS or not 0 <= pk <= MAX_PK:
        raise invalid
    try:
        return _aware_utc(moment, name), rank, pk
    except QueryParameterInvalid:
        raise invalid from None


def _check_names(params: Any) -> None:
    for name in params.keys() if hasattr(params, "keys") else ():
        if name not in SUPPORTED and _EPCIS_NAME.match(name):
            raise QueryParameterUnsupported(
                f"{name[:60]} is an EPCIS query parameter this server does not support; "
                f"supported: {', '.join(sorted(SUPPORTED))}.",
                field=name[:60],
            )


def query_from_params(params: Any) -> EventQuery:
    """The common EPCIS query parameters (the REST binding's names) as an EventQuery."""
    _check_names(params)
    types = _values(params, "eventType")
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise QueryParameterInvalid(f"eventType {unknown[0][:40]!r} is not an EPCIS event type.", field="eventType")
    per_page = DEFAULT_PAGE
    if _values(params, "perPage"):
        try:
            per_page = int(_values(params, "perPage")[0])
        except ValueError:
            raise QueryParameterInvalid("perPage is not a number.", field="perPage") from None
        if not 1 <= per_page <= MAX_PAGE:
            raise QueryParameterInvalid(f"perPage runs from 1 to {MAX_PAGE}.", field="perPage")
    token = _values(params, "nextPageToken")
    return EventQuery(
        event_types=frozenset(types) if types else None,
        ge_time=_time(params, "GE_eventTime"),
        lt_time=_time(params, "LT_eventTime"),
        biz_steps=frozenset(bare(s) for s in _values(params, "EQ_bizStep")) or None,
        epcs=tuple(_values(params, "MATCH_epc") + _values(params, "MATCH_anyEPC")),
        epc_classes=tuple(_values(params, "MATCH_anyEPCClass")),
        read_points=tuple(_values(params, "EQ_readPoint")),
        biz_locations=tuple(_values(params, "EQ_bizLocation")),
        per_page=per_page,
        after=_decode_token(token[0]) if token else None,
    )
