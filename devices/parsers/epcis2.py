"""GS1 EPCIS 2.0 JSON-LD documents, as a partner system ``POST /capture``s them.

Follows GS1 EPCIS 2.0 / CBV 2.0 (2022) and the gs1/EPCIS repository: the body is
validated against the standard's JSON Schema (draft-07, ``EPCIS-JSON-Schema.json``
from commit 2b888be, copied unchanged to ``schemas/`` so nothing is fetched at run
time).  Accepted: ``EPCISDocument`` (events in ``epcisBody.eventList``),
``EPCISQueryDocument`` (``epcisBody.queryResults.resultsBody.eventList``) and a
single event object (as ``POST /events`` takes it).  A schema violation is a
ParseError naming the event index, its type and the failing field.

Returns:

* ``epcis_events``: the validated event dicts exactly as in the document;
* a TagRead per ``epcList`` entry of every ObjectEvent that has a ``readPoint``
  (tag id = the EPC URI; GS1 Digital Link URIs are converted to EPC URIs when the
  company prefix is known, else kept; read point = ``readPoint.id``; time =
  ``eventTime`` in UTC), so captured events feed the same pipeline as reads;
* a SensorSample per ``sensorReport`` with a ``value`` (or ``meanValue``):
  metric from the CBV measurement type (``Temperature`` -> ``temperature``,
  ``RelativeHumidity`` -> ``humidity``, other types snake_cased), unit from the
  UN/ECE Rec 20 code (``CEL`` -> ``°C``, others kept as the code).

``upload_key`` is None: document ``id``s are not reliably unique per document;
idempotency of EPCIS capture is by event id, which the pipeline owns.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import biip
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from ._common import as_decimal, epc_uri_from_elements, iso_time, load_json
from .base import ParseContext, ParseError, ParseResult, SensorSample, TagRead

FORMAT = "epcis2"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "EPCIS-JSON-Schema.json"
_EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
_METRICS = {
    "Temperature": "temperature",
    "RelativeHumidity": "humidity",
    "AbsoluteHumidity": "absolute_humidity",
    "AbsolutePressure": "pressure",
}
_UNITS = {"CEL": "°C", "KEL": "K", "FAH": "°F", "PAL": "Pa", "P1": "%"}
_VOCAB_PREFIXES = ("gs1:", "https://gs1.org/voc/", "http://gs1.org/voc/")
_COMBINATORS = frozenset({"anyOf", "oneOf", "allOf", "not", "if"})
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@lru_cache(maxsize=1)
def validator() -> Draft7Validator:
    """The compiled EPCIS 2.0 schema validator (loaded once)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _event_list_location(doc: dict[str, Any]) -> tuple[tuple[Any, ...], list[Any]]:
    dtype = doc.get("type")
    if dtype == "EPCISDocument":
        return ("epcisBody", "eventList"), doc["epcisBody"]["eventList"]
    if dtype == "EPCISQueryDocument":
        path = ("epcisBody", "queryResults", "resultsBody", "eventList")
        try:
            return path, doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        except (KeyError, TypeError):
            return path, []
    return (), [doc]


def _describe_error(doc: Any, error: Any) -> str:
    parts = list(error.absolute_path)
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    if isinstance(doc, dict):
        for prefix in (("epcisBody", "eventList"), ("epcisBody", "queryResults", "resultsBody", "eventList")):
            n = len(prefix)
            if tuple(parts[:n]) == prefix and len(parts) > n and isinstance(parts[n], int):
                index = parts[n]
                events = doc
                for key in prefix:
                    events = events[key]
                event = events[index]
                etype = event.get("type", "?") if isinstance(event, dict) else "?"
                field = _path(parts[n + 1 :]) if len(parts) > n + 1 else "(event)"
                return f"event [{index}] ({etype}) field {field}: {message}"
    return f"document field {_path(parts)}: {message}"


def _first_error(doc: Any) -> Any:
    """The most telling schema error: a direct one (enum, type, required...) before
    an anyOf/oneOf summary, whose sub-errors are alternatives rather than the fault."""
    errors = list(validator().iter_errors(doc))
    if not errors:
        return None
    direct = [e for e in errors if e.validator not in _COMBINATORS]
    if direct:
        return direct[0]
    return best_match(errors)


def _tag_id(epc: str) -> str:
    if epc[:4].lower() == "http":
        try:
            dl = biip.parse(epc).gs1_digital_link_uri
        except Exception:  # biip may raise on odd input; keep the URI
            return epc
        if dl is not None:
            uri = epc_uri_from_elements({es.ai.ai: es.value for es in dl.element_strings})
            if uri is not None:
                return uri
    return epc


def _vocab(value: str) -> str:
    for prefix in _VOCAB_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _samples(event: dict[str, Any], event_time: Any, result: ParseResult) -> None:
    read_point = event.get("readPoint", {}).get("id", "")
    for element in event.get("sensorElementList", ()):
        meta = element.get("sensorMetadata", {})
        for report in element.get("sensorReport", ()):
            value = report.get("value", report.get("meanValue"))
            if value is None:
                continue
            mtype = _vocab(report.get("type", ""))
            metric = _METRICS.get(mtype) or _CAMEL.sub("_", mtype).lower()
            uom = report.get("uom", "")
            when_raw = report.get("time") or meta.get("time") or meta.get("endTime")
            when = iso_time(when_raw, "sensorReport.time") if when_raw else event_time
            result.samples.append(
                SensorSample(
                    sensor_id=report.get("deviceID") or meta.get("deviceID") or read_point,
                    metric=metric,
                    value=as_decimal(value, "sensorReport.value"),
                    unit=_UNITS.get(uom, uom),
                    observed_at=when,
                )
            )


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Validate an EPCIS 2.0 JSON-LD document and extract its events."""
    doc = load_json(body)
    try:
        error = _first_error(doc)
    except RecursionError:
        raise ParseError("document nested too deeply to validate") from None
    if error is not None:
        raise ParseError(_describe_error(doc, error))
    if not isinstance(doc, dict):  # pragma: no cover - the schema requires an object
        raise ParseError("expected a JSON object")
    dtype = doc.get("type")
    if dtype not in ("EPCISDocument", "EPCISQueryDocument") and dtype not in _EVENT_TYPES:
        raise ParseError(f"type {str(dtype)[:40]!r} is not an EPCIS document or event")
    _, events = _event_list_location(doc)
    result = ParseResult(format=FORMAT)
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise ParseError(f"event [{i}]: expected object")
        etype = event.get("type", "?")
        try:
            event_time = iso_time(event.get("eventTime"), "eventTime")
            if etype == "ObjectEvent" and "readPoint" in event:
                read_point = event["readPoint"]["id"]
                for epc in event.get("epcList", ()):
                    result.reads.append(
                        TagRead(
                            tag_id=_tag_id(epc),
                            read_point=read_point,
                            first_seen=event_time,
                            last_seen=event_time,
                        )
                    )
            _samples(event, event_time, result)
        except ParseError as exc:
            raise exc.at(f"event [{i}] ({etype})") from None
        result.epcis_events.append(event)
    return result
