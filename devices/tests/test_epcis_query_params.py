"""The EPCIS query answers every parameter with 200 or a 400 problem, never a 5xx:
hypothesis over the EPCIS 2.0 query parameters (the ones implemented, the standard's
others, and made-up names of the same families) with values shaped like what a
partner sends (times at the ends of the calendar, EPC and class URIs of every
form, paging tokens) and arbitrary text."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.epcis.query_params import SUPPORTED
from tests.factories.inventory import LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/epcis/events"

STANDARD_OTHERS = [
    "GE_recordTime",
    "LT_recordTime",
    "EQ_action",
    "EQ_disposition",
    "WD_readPoint",
    "WD_bizLocation",
    "EQ_transformationID",
    "MATCH_parentID",
    "MATCH_inputEPC",
    "MATCH_outputEPC",
    "MATCH_epcClass",
    "MATCH_inputEPCClass",
    "MATCH_outputEPCClass",
    "EQ_quantity",
    "GT_quantity",
    "EQ_eventID",
    "EXISTS_errorDeclaration",
    "EQ_errorReason",
    "EQ_correctiveEventID",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "EQ_bizTransaction_po",
    "EQ_INNER_ILMD_lotNumber",
    "GE_value",
    "EQ_type",
]
NAMES = st.sampled_from(sorted(SUPPORTED) + STANDARD_OTHERS) | st.from_regex(
    r"\A(EQ|GE|LT|MATCH|WD|EXISTS)_[A-Za-z]{1,12}\Z"
)

_digits = st.text(alphabet="0123456789", min_size=0, max_size=14)
_piece = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
URIS = st.one_of(
    st.builds(lambda a, b, c: f"urn:epc:id:sgtin:{a}.{b}.{c}", _digits, _digits, _piece),
    st.builds(lambda a, b, c: f"urn:epc:class:lgtin:{a}.{b}.{c}", _digits, _digits, _piece),
    st.builds(lambda a, b: f"urn:epc:idpat:sgtin:{a}.{b}.*", _digits, _digits),
    st.builds(lambda a, b: f"urn:epc:id:sgln:{a}.{b}.0", _digits, _digits),
    st.builds(lambda a, b: f"https://id.gs1.org/01/{a}/10/{b}", _digits, _piece),
    st.builds(lambda a, b: f"https://id.gs1.org/414/{a}/254/{b}", _digits, _piece),
    st.builds(lambda a, b: f"urn:shopfloor:lot:{a}:{b}", _piece, _piece),
    st.builds(lambda a, b: f"urn:shopfloor:location:{a}:{b}", _piece, _piece),
    st.sampled_from(["urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:giai:4000001.12345", "%00", "|", ","]),
)
_offsets = st.integers(min_value=-24 * 60 + 1, max_value=24 * 60 - 1).map(lambda m: dt.timedelta(minutes=m))
TIMES = st.one_of(
    st.builds(
        lambda when, offset: when.replace(tzinfo=dt.timezone(offset)).isoformat(),
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59)),
        _offsets,
    ),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2025-13-01T00:00Z", "yesterday"]),
)
_token_body = st.one_of(
    st.tuples(TIMES, st.integers(), st.integers()).map(list),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), lambda c: st.lists(c, max_size=3)),
)
TOKENS = _token_body.map(lambda body: base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("="))
VALUES = st.one_of(
    URIS,
    TIMES,
    TOKENS,
    st.integers().map(str),
    st.sampled_from(["ObjectEvent", "TransformationEvent", "AssociationEvent", "receiving", "shipping"]),
    st.text(max_size=40),
)
PARAMS = st.dictionaries(NAMES, st.lists(VALUES, min_size=1, max_size=3), max_size=4)


@pytest.fixture
def reader(api_client):
    """A plant manager of a site with a few moves to filter."""
    site = SiteFactory(code="q-fuzz")
    bin1 = LocationFactory(site=site, kind="bin", code="QF-BIN")
    receive(LotItemFactory(sku="QF-LOT", gtin="04012345123456"), bin1, Decimal("5"), lot_code="L1")
    receive(SerialItemFactory(sku="QF-SER", gtin="00614141073467"), bin1, 2, serials=["A1", "A2"])
    api_client.force_authenticate(user_with_role("plant manager", site))
    return api_client


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(params=PARAMS)
def test_every_query_parameter_answers_200_or_a_400_problem(reader, params) -> None:
    response = reader.get(EVENTS, params)
    assert response.status_code in (200, 400), (params, response.status_code, response.content[:300])
    if response.status_code == 400:
        body = response.json()
        assert body["code"] in ("query_parameter_invalid", "query_parameter_unsupported"), body


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"MATCH_anyEPCClass": "urn:epc:idpat:sgtin:4012345.012345.*"}, None),
        ({"MATCH_anyEPCClass": "https://id.gs1.org/01/04012345123456"}, None),
        ({"GE_eventTime": "0001-01-01T00:00:00+01:00"}, "query_parameter_invalid"),
        ({"LT_eventTime": "9999-12-31T23:59:59-01:00"}, "query_parameter_invalid"),
        ({"GE_eventTime": "2025-01-01T00:00:00"}, "query_parameter_invalid"),
        ({"MATCH_epc": "urn:epc:id:sgtin:0614141.107346.\x00"}, "query_parameter_invalid"),
        ({"EQ_disposition": "in_progress"}, "query_parameter_unsupported"),
        ({"orderBy": "eventTime"}, "query_parameter_unsupported"),
    ],
)
def test_known_edges(reader, params, code) -> None:
    response = reader.get(EVENTS, params)
    if code is None:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400, response.content
        assert response.json()["code"] == code


def test_match_any_epc_class_of_an_item_finds_its_class_moves(reader) -> None:
    body = reader.get(EVENTS, {"MATCH_anyEPCClass": "https://id.gs1.org/01/04012345123456/10/L1"}).json()
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(events) == 1 and events[0]["quantityList"][0]["quantity"] == 5


@pytest.mark.parametrize(
    "token",
    [
        ["2020-01-01T00:00:00", 0, 1],  # naive
        ["0001-01-01T00:00:00+05:00", 0, 1],  # before the first UTC instant
        ["2020-01-01T00:00:00+00:00", 0, 2**70],  # beyond a bigint
        ["2020-01-01T00:00:00+00:00", 99, 1],  # no such source
    ],
)
def test_a_forged_page_token_is_a_400(reader, token) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
    response = reader.get(EVENTS, {"nextPageToken": forged})
    assert response.status_code == 400 and response.json()["code"] == "query_parameter_invalid"
