"""The one genealogy walker: trace backward, trace forward and recall walk the same links."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from inventory import services
from inventory.models import Lot, SerialUnit
from inventory.selectors import genealogy_walk, trace_backward, trace_forward
from tests.factories.inventory import LotItemFactory, SerialItemFactory, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(bins):
    """Raw lot RAW-1 -> mix lot MIX-1 -> serial UNIT-1 (of lot UL-1): three levels of assembly."""
    _, bin1, _ = bins
    raw, mix, unit = LotItemFactory(sku="G-RAW"), LotItemFactory(sku="G-MIX"), SerialItemFactory(sku="G-UNIT")
    receive(raw, bin1, 10, lot_code="RAW-1")
    issued = services.stock_issue(item=raw, quantity=D(4), location=bin1, reference="WO-1")
    services.stock_produce(item=mix, quantity=D(2), location=bin1, lot_code="MIX-1", consumed=issued, reference="WO-1")
    issued = services.stock_issue(item=mix, quantity=D(1), location=bin1, reference="WO-2")
    services.stock_produce(
        item=unit, quantity=D(1), location=bin1, serials=["UNIT-1"], lot_code="UL-1", consumed=issued, reference="WO-2"
    )
    return Lot.objects.get(code="RAW-1"), Lot.objects.get(code="MIX-1"), SerialUnit.objects.get(serial="UNIT-1")


def test_forward_and_backward_walks_reach_the_same_chain(chain):
    raw, mix, unit = chain
    forward = genealogy_walk(lot_ids=[raw.pk], direction="forward", max_depth=20)
    assert forward.lots == {raw.pk, mix.pk} and forward.serials == {unit.pk}
    assert [link.reference for link in forward.links[("l", raw.pk)]] == ["WO-1"]
    backward = genealogy_walk(serial_ids=[unit.pk], direction="backward", max_depth=20)
    assert backward.lots == {mix.pk, raw.pk} and backward.serials == {unit.pk}
    # depth bound: one level only reaches the direct inputs
    assert genealogy_walk(serial_ids=[unit.pk], direction="backward", max_depth=1).lots == {mix.pk}


def test_recall_walk_takes_a_lots_serials_and_output_lots_with_it(chain):
    raw, mix, unit = chain
    walk = genealogy_walk(lot_ids=[raw.pk], direction="forward", max_depth=50, lot_members=True)
    assert walk.lots == {raw.pk, mix.pk, unit.lot_id} and walk.serials == {unit.pk}


def test_traces_and_recall_agree(chain, make_user, site_a):
    raw, mix, unit = chain
    user = make_user("quality inspector", site_a)
    back = trace_backward(user=user, serial=unit)
    assert [n["lot"] for n in back["inputs"]] == ["MIX-1"]
    assert [n["lot"] for n in back["inputs"][0]["inputs"]] == ["RAW-1"]
    forward = trace_forward(user=user, lot=raw)
    assert [n["lot"] for n in forward["outputs"]] == ["MIX-1"]
    assert [n["serial"] for n in forward["outputs"][0]["outputs"]] == ["UNIT-1"]
    result = services.lot_recall(lot=raw, reason="supplier notice")
    assert {lot.code for lot in result.held_lots} == {"MIX-1", "UL-1"}
    unit.refresh_from_db()
    assert unit.status == SerialUnit.Status.ON_HOLD  # held with its lot UL-1
