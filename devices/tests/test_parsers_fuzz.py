"""Fuzz every parser with mutated real bodies: a ParseResult or a ParseError, nothing else.

Mutations: byte flips, truncation, inserted bytes, and (for JSON bodies) replacing
or deleting one value anywhere in the document.  Bounded to ~200 examples per
parser so the module runs in seconds; no database needed.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.parsers import PARSERS, ParseError, ParseResult

UPLOADS = Path(__file__).resolve().parent / "uploads"

CSV_SAMPLE = (
    b"epc,reader,antenna,timestamp,rssi,count\r\n"
    b"303643E6B433C20000001267,FX9600-DOCK1,2,2025-11-18T09:41:07.512Z,-58.5,5\r\n"
    b"331643E6B400004000001389,FX9600-DOCK1,,2025-11-18T10:41:08+01:00,,\r\n"
)
IMPINJ_STREAM = b"\r\n".join(
    json.dumps(e).encode() for e in json.loads((UPLOADS / "impinj-r700-iot-webhook.json").read_bytes())
)

SAMPLES: dict[str, list[bytes]] = {
    "zebra_iotc": [(UPLOADS / "zebra-fx9600-iotconnector-httppost.json").read_bytes()],
    "impinj_iot": [(UPLOADS / "impinj-r700-iot-webhook.json").read_bytes(), IMPINJ_STREAM],
    "impinj_speedway": [(UPLOADS / "impinj-speedway-connect-httppost.ndjson").read_bytes()],
    "llrp_json": [(UPLOADS / "llrp-ro-access-report.json").read_bytes()],
    "minew_ble": [(UPLOADS / "minew-g1-json-long.json").read_bytes()],
    "ruuvi_gateway": [(UPLOADS / "ruuvi-gateway-http-timestamped.json").read_bytes()],
    "gs1_scans": [(UPLOADS / "handheld-scans-gs1.json").read_bytes()],
    "csv": [CSV_SAMPLE],
    "machine_state": [(UPLOADS / "machine-state-weld-cell.json").read_bytes()],
    "epcis2": [(UPLOADS / "epcis-2.0-capture.jsonld").read_bytes()]
    + [p.read_bytes() for p in sorted((UPLOADS / "epcis").glob("*.jsonld"))],
}

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "2025-11-18T09:41:07",
            "2025-11-18T09:41:07Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+14:00",
            "303643E6B433C20000001267",
            "E28011606000020500",
            "]d2010950110153000321",
            "]",
            "]Y",
            "https://id.gs1.org/01/09501101530003/21/x",
            "1763459058",
            "0201061BFF9904",
            "0201061BFF990405" + "FF" * 23,
        ]
    ),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)

_DELETE = object()


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return None if value is _DELETE else value
    head, rest = path[0], path[1:]
    if not rest and value is _DELETE:
        del node[head]
    else:
        node[head] = _replace(node[head], rest, value)
    return node


def _json_docs(body: bytes) -> tuple[list[Any], bool] | None:
    """The JSON values of a body and whether it is NDJSON; None if not JSON."""
    try:
        return [json.loads(body)], False
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in body.splitlines() if line.strip()], True
    except ValueError:
        return None


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> bytes:
    body = draw(st.sampled_from(SAMPLES[fmt]))
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "json", "json", "json"]))
    if kind == "flip":
        data = bytearray(body)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "truncate":
        return body[: draw(st.integers(0, len(body) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(body)))
        return body[:at] + draw(st.binary(min_size=1, max_size=16)) + body[at:]
    parsed = _json_docs(body)
    if parsed is None:  # CSV: replace one cell's text
        lines = body.decode().splitlines()
        row = draw(st.integers(0, len(lines) - 1))
        cells = lines[row].split(",")
        cells[draw(st.integers(0, len(cells) - 1))] = draw(st.text(max_size=30))
        lines[row] = ",".join(cells)
        return "\r\n".join(lines).encode("utf-8", "surrogatepass")
    docs, ndjson = parsed
    which = draw(st.integers(0, len(docs) - 1))
    path = draw(st.sampled_from(_paths(docs[which])))
    value = draw(st.one_of(JSON_VALUES, st.just(_DELETE))) if path else draw(JSON_VALUES)
    docs[which] = _replace(docs[which], path, value)
    if ndjson:
        return b"\n".join(json.dumps(d).encode() for d in docs)
    return json.dumps(docs[0]).encode()


def _check(result: ParseResult, fmt: str) -> None:
    assert isinstance(result, ParseResult)
    assert result.format == fmt
    for read in result.reads:
        assert read.first_seen.tzinfo is UTC and read.last_seen.tzinfo is UTC
        assert read.first_seen <= read.last_seen
        assert read.count >= 1
        assert isinstance(read.tag_id, str) and read.tag_id
    for sample in result.samples:
        assert sample.observed_at.tzinfo is UTC
    for scan in result.scans:
        assert scan.scanned_at.tzinfo is UTC


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_parser_survives_mutations(fmt: str, data: st.DataObject) -> None:
    body = data.draw(mutated(fmt), label="body")
    try:
        result = PARSERS[fmt](body)
    except ParseError as exc:
        assert exc.reason and isinstance(exc.reason, str)
    else:
        _check(result, fmt)


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
def test_parser_survives_random_bytes(fmt: str, body: bytes) -> None:
    try:
        result = PARSERS[fmt](body)
    except ParseError:
        return
    _check(result, fmt)
