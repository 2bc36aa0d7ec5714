"""The declared Content-Type is honoured: JSON as one (pretty-printed) document or as
NDJSON, forms, CSV and text; a body that does not match its type is rejected saying so."""

from __future__ import annotations

import json

import pytest

from devices.models import ReaderUpload, Tag, TagState, UploadStatus
from devices.parsers import ParseError, parse
from devices.tests.helpers import example, post_upload

EVENTS = json.loads(example("impinj_iot"))


def _ndjson(events: list) -> bytes:
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(EVENTS, indent=2).encode(), "application/json"),
        (json.dumps(EVENTS).encode(), "application/json; charset=utf-8"),
        (_ndjson(EVENTS), "application/x-ndjson"),
        (_ndjson(EVENTS), "application/json"),  # a batch labelled JSON, as many readers send it
        (b"\r\n" + _ndjson(EVENTS) + b"\r\n\r\n", "application/x-ndjson"),  # stream keep-alives
        (json.dumps(EVENTS, indent=2).encode(), "text/plain"),
        (json.dumps(EVENTS).encode(), ""),
    ],
)
def test_json_shapes_give_the_same_reads(body: bytes, content_type: str) -> None:
    result = parse("impinj_iot", body, content_type=content_type)
    assert len(result.reads) == 3


def test_one_pretty_printed_event_is_one_document() -> None:
    body = json.dumps(EVENTS[0], indent=4).encode()
    assert len(parse("impinj_iot", body, content_type="application/json").reads) == 1


@pytest.mark.parametrize(
    ("fmt", "body", "content_type", "fragment"),
    [
        ("impinj_iot", b"epc,reader\n30,a\n", "application/json", "declared application/json but the body is not JSON"),
        ("impinj_iot", json.dumps(EVENTS, indent=2).encode(), "application/x-ndjson", "line 1 is not one complete"),
        ("impinj_speedway", b'{"epc": "30"}', "application/x-www-form-urlencoded", "the body is JSON"),
        ("csv", b'[{"epc": "30"}]', "text/csv", "declared text/csv but the body is JSON"),
        ("impinj_iot", b"a,b\n1,2\n", "text/csv", "text/csv is not a shape of the impinj_iot format"),
        ("impinj_iot", b"<xml/>", "application/xml", "Content-Type 'application/xml' is not supported"),
        ("impinj_iot", b"\xff\xfe{}", "application/json", "not UTF-8"),
    ],
)
def test_a_body_that_does_not_match_its_declared_type_is_rejected(fmt, body, content_type, fragment) -> None:
    with pytest.raises(ParseError) as err:
        parse(fmt, body, content_type=content_type)
    assert fragment in err.value.reason


def test_a_declared_charset_is_decoded() -> None:
    body = "epc,reader,timestamp\n303643E6B433C20000001267,Tür-1,2025-11-18T09:41:07Z\n".encode("latin-1")
    result = parse("csv", body, content_type="text/csv; charset=ISO-8859-1")
    assert result.reads[0].read_point == "Tür-1"


@pytest.mark.django_db
def test_mismatched_body_is_stored_and_rejected_and_changes_nothing(story, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(
            _ndjson(EVENTS).replace(b"}\n{", b"}\n{{", 1),
            story.secrets["impinj_iot"],
            content_type="application/x-ndjson",
        )
    assert response.status_code == 202
    upload = ReaderUpload.objects.get(pk=response.json()["id"])
    assert upload.status == UploadStatus.REJECTED
    assert "declared application/x-ndjson but line 2" in upload.reason
    assert upload.content_type == "application/x-ndjson"
    assert not Tag.objects.exists() and not TagState.objects.exists()
    story.devices["impinj_iot"].refresh_from_db()
    assert story.devices["impinj_iot"].last_seen_at is None
