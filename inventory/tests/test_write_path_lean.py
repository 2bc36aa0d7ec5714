"""The lean write path (``inventory.api.inputs``, ``inventory.selectors.keys``, ``move_row``)
validates, resolves and answers exactly as the serializers do, and leaves every doubtful body
to them (so their 400s are unchanged)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from typing import Any

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from inventory import services
from inventory.api import inputs
from inventory.api import serializers as s
from inventory.models import Receipt, Shipment, StockMove
from inventory.selectors.keys import natural_keys
from tests.factories.inventory import ItemFactory, LotFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tracker.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def _request(user):
    request = APIRequestFactory().post("/api/v1/inventory/moves/")
    request.user = user
    return request


def _json(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def world(site_a, site_b, bins):
    _, bin1, bin2 = bins
    bolt = ItemFactory(sku="BOLT")
    milk = LotItemFactory(sku="MILK", unit="l")
    chip = SerialItemFactory(sku="CHIP")
    receive(bolt, bin1, 50)
    receive(milk, bin1, 20, lot_code="M1")
    receive(chip, bin1, 2, serials=["C1", "C2"])
    other_bin = LocationFactory(site=site_b, kind="bin", code="B-BIN1")
    LotFactory(item=milk, code="B-ONLY", site=site_b)  # another site's lot, held nowhere at A
    clerk = user_with_role("warehouse clerk", site_a)
    return {"bolt": bolt, "milk": milk, "chip": chip, "bin1": bin1, "bin2": bin2, "other": other_bin, "user": clerk}


VALID_MOVES = [
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": "A-BIN2"},
    {"kind": "transfer", "item": "BOLT", "quantity": 2, "source": "A-BIN1", "destination": "A-BIN2", "unit": "pcs"},
    {"kind": "transfer", "item": "MILK", "quantity": "1.5", "source": "A-BIN1", "destination": "A-BIN2", "lot": "M1"},
    {
        "kind": "receive",
        "item": "MILK",
        "quantity": "3.25",
        "location": "A-BIN2",
        "lot": "NEW-LOT",
        "expiry_date": "2031-01-31",
        "reference": "  PO-1  ",
        "reference_type": "purchase_order",
        "supplier": "ACME",
        "occurred_at": "2026-01-02T03:04:05+01:00",
        "external_id": "ext-1",
    },
    {"kind": "receive", "item": "CHIP", "quantity": "1", "location": "A-BIN2", "serials": ["C9"]},
    {"kind": "issue", "item": "MILK", "quantity": "1", "location": "A-BIN1", "lot": "M1", "reference": "WO-1"},
    {"kind": "issue", "item": "BOLT", "quantity": "1", "location": "A-BIN1", "lot": ""},
    {"kind": "adjust", "item": "BOLT", "quantity": "-2", "location": "A-BIN1", "reason": "lost"},
    {"kind": "scrap", "item": "CHIP", "quantity": "1", "location": "A-BIN1", "serials": ["C1"], "reason": "broken"},
    # a location the kind does not use is still resolved (and must exist), as the serializer does
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": "A-BIN2",
     "location": "A-BIN1", "ignored": "x"},
]  # fmt: skip


@pytest.mark.parametrize("body", VALID_MOVES)
def test_a_valid_move_is_validated_as_the_serializer_does(world, body):
    serializer = s.MoveCreateSerializer(data=body, context={"request": _request(world["user"])})
    assert serializer.is_valid(), serializer.errors
    assert inputs.move_input(body, world["user"]) == dict(serializer.validated_data)


INVALID_MOVES = [
    {"kind": "transfer", "item": "NOPE", "quantity": "1", "source": "A-BIN1", "destination": "A-BIN2"},
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": "B-BIN1"},
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1"},
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": ""},
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": None},
    {"kind": "transfer", "item": "BOLT", "quantity": "1", "source": "A-BIN1", "destination": 7},
    {"kind": "transfer", "item": "BOLT", "quantity": "1.00001", "source": "A-BIN1", "destination": "A-BIN2"},
    {"kind": "transfer", "item": "BOLT", "quantity": "NaN", "source": "A-BIN1", "destination": "A-BIN2"},
    {"kind": "transfer", "item": "BO\x00LT", "quantity": "1", "source": "A-BIN1", "destination": "A-BIN2"},
    {"kind": "issue", "item": "MILK", "quantity": "1", "location": "A-BIN1", "lot": "B-ONLY"},
    {"kind": "issue", "item": "MILK", "quantity": "1", "location": "A-BIN1", "lot": "M404"},
    {"kind": "issue", "item": "BOLT", "quantity": "1", "location": "A-BIN1", "lot": "M1"},
    {"kind": "teleport", "item": "BOLT", "quantity": "1", "location": "A-BIN1"},
    {"kind": "receive", "item": "BOLT", "quantity": "1", "location": "A-BIN1", "reference": "x" * 101},
    {"item": "BOLT", "quantity": "1", "location": "A-BIN1"},
    ["not", "a", "dict"],
]


@pytest.mark.parametrize("body", INVALID_MOVES)
def test_anything_the_serializer_refuses_is_left_to_it(world, body):
    serializer = s.MoveCreateSerializer(data=body, context={"request": _request(world["user"])})
    assert not serializer.is_valid()
    assert inputs.move_input(body, world["user"]) is None


def test_keys_are_scoped_as_restrict_is(world, site_a):
    keys = natural_keys(
        user=world["user"],
        skus=["BOLT", "MILK", "NOPE", None, ""],
        location_codes=["A-BIN1", "B-BIN1"],
        lots=[("MILK", "M1"), ("MILK", "B-ONLY")],
        site_codes=["plant-a", "plant-b"],
    )
    assert set(keys.items) == {"BOLT", "MILK"}
    assert set(keys.locations) == {"A-BIN1"}
    assert set(keys.lots) == {(world["milk"].pk, "M1")}
    assert set(keys.sites) == {"plant-a"}
    assert keys.items["MILK"].unit == "l" and keys.items["BOLT"].active is True
    assert keys.locations["A-BIN1"].site_id == site_a.pk and keys.sites["plant-a"].pk == site_a.pk
    nobody = user_with_role(None, site_a)
    assert natural_keys(user=nobody, skus=["BOLT"], location_codes=["A-BIN1"], site_codes=["plant-a"]) == type(keys)()


def test_a_lot_held_at_the_users_site_is_visible_wherever_it_was_made(world, site_b):
    lot = LotFactory(item=world["milk"], code="MADE-AT-B", site=site_b)
    assert natural_keys(user=world["user"], lots=[("MILK", "MADE-AT-B")]).lots == {}
    receive(world["milk"], world["bin2"], 1, lot_code="MADE-AT-B")
    assert natural_keys(user=world["user"], lots=[("MILK", "MADE-AT-B")]).lots == {(world["milk"].pk, lot.code): lot}


def test_values_are_typed_as_the_orm_reads_them(world):
    world["milk"].reorder_point = D("12.5")
    world["milk"].save()
    found = natural_keys(user=world["user"], skus=["MILK"], lots=[("MILK", "M1")]).items["MILK"]
    assert found.reorder_point == D("12.5") and isinstance(found.created_at, dt.datetime)
    assert found.created_at == type(world["milk"]).objects.get(pk=world["milk"].pk).created_at


DOCUMENT = {
    "site": "plant-a",
    "reference": "PO-9",
    "partner": "ACME",
    "lines": [
        {"item": "BOLT", "quantity": "4", "location": "A-BIN1"},
        {"item": "MILK", "quantity": "2", "location": "A-BIN2", "lot": "M1", "expiry_date": "2031-02-01"},
        {"item": "MILK", "quantity": "1", "location": "A-BIN1", "lot": "M1", "external_id": "l3", "unit": "l"},
    ],
}


@pytest.mark.parametrize("with_lots", [False, True])
def test_a_valid_document_is_validated_as_the_serializer_does(world, with_lots):
    serializer = s.DocumentCreateSerializer(data=DOCUMENT, context={"request": _request(world["user"])})
    assert serializer.is_valid(), serializer.errors
    fast = inputs.document_input(DOCUMENT, world["user"], with_lots=with_lots)
    assert fast is not None
    expected = dict(serializer.validated_data)
    expected["lines"] = [dict(line) for line in expected["lines"]]
    assert fast.data == expected
    if with_lots:
        assert fast.lot(world["milk"], "M1").code == "M1"
        with pytest.raises(ValidationFailed) as raised:
            fast.lot(world["milk"], "B-ONLY")
        assert (raised.value.field, raised.value.detail) == ("lot", "No lot 'B-ONLY' of MILK.")


@pytest.mark.parametrize(
    "change",
    [
        {"site": "plant-b"},
        {"site": None},
        {"reference": ""},
        {"lines": []},
        {"lines": [{"item": "BOLT", "quantity": "1", "location": "B-BIN1"}]},
        {"lines": [{"item": "BOLT", "quantity": "0.00001", "location": "A-BIN1"}]},
        {"lines": [{"item": "BOLT", "location": "A-BIN1"}]},
        {"lines": ["BOLT"]},
        {"lines": [{"item": "BOLT", "quantity": "1", "location": "A-BIN1"}] * (s.MAX_LINES + 1)},
    ],
)
def test_a_document_the_serializer_refuses_is_left_to_it(world, change):
    body = {**DOCUMENT, **change}
    serializer = s.DocumentCreateSerializer(data=body, context={"request": _request(world["user"])})
    assert not serializer.is_valid()
    assert inputs.document_input(body, world["user"], with_lots=True) is None


def test_move_rows_match_the_serializer(world):
    user = world["user"]
    moves = [
        *services.stock_transfer(
            item=world["milk"], quantity=D("1.5"), source=world["bin1"], destination=world["bin2"],
            lot=world["milk"].lots.get(code="M1"), actor=user, reference="T-1",
        ),
        *services.stock_scrap(
            item=world["chip"], quantity=D(1), location=world["bin1"], serials=["C2"], reason="dropped", actor=None
        ),
        *services.stock_transfer(
            item=world["bolt"], quantity=D(3), source=world["bin1"], destination=world["other"], actor=user
        ),
    ]  # fmt: skip
    expected = _json(s.StockMoveSerializer(StockMove.objects.filter(pk__in=[m.pk for m in moves]), many=True).data)
    assert _json([s.move_row(m) for m in moves]) == sorted(
        expected, key=lambda row: [m.pk for m in moves].index(row["id"])
    )


def test_document_rows_match_the_serializers(world, site_a):
    lines = [
        {"item": world["bolt"], "quantity": D(2), "location": world["bin1"]},
        {"item": world["milk"], "quantity": D("0.5"), "location": world["bin2"], "lot_code": "R-1"},
    ]
    receipt = services.receipt_create(site=site_a, reference="PO-2", lines=lines, supplier="ACME", actor=world["user"])
    shipment = services.shipment_create(
        site=site_a,
        reference="SO-2",
        lines=[{"item": world["bolt"], "quantity": D(1), "location": world["bin1"]}],
        customer="Shop",
        actor=world["user"],
    )
    for doc, serializer in ((receipt, s.ReceiptPostedSerializer), (shipment, s.ShipmentPostedSerializer)):
        assert _json(s.document_posted_row(doc)) == _json(serializer(doc).data)
    assert isinstance(receipt, Receipt) and isinstance(shipment, Shipment)
