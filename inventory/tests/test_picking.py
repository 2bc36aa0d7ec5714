"""The one picking rule, ``stock_pick``: FEFO over usable lots, named lots, reservations, shortfalls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from inventory import errors, services
from inventory.models import Lot
from tests.factories.inventory import ItemFactory, LotItemFactory, receive

pytestmark = pytest.mark.django_db


def soon(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


@pytest.fixture
def lots(bins):
    """A lot-tracked item in BIN1: OLD (expires first, held), MID, NEW; and MID2 in BIN2."""
    _, bin1, bin2 = bins
    item = LotItemFactory(sku="PICK")
    receive(item, bin1, 5, lot_code="OLD", expiry_date=soon(5))
    receive(item, bin1, 5, lot_code="MID", expiry_date=soon(10))
    receive(item, bin1, 5, lot_code="NEW", expiry_date=soon(20))
    receive(item, bin2, 5, lot_code="MID2", expiry_date=soon(12))
    services.lot_set_status(lot=Lot.objects.get(code="OLD"), status="on_hold", reason="QA")
    return item, bin1, bin2


def picked(picking) -> list[tuple[str, str | None, D]]:
    return [(p.location.code, p.lot.code if p.lot else None, p.quantity) for p in picking.picks]


def test_fefo_skips_held_lots_and_takes_the_earliest_expiry_first(lots):
    item, bin1, _ = lots
    picking = services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(7), location=bin1)
    assert picked(picking) == [("A-BIN1", "MID", D(5)), ("A-BIN1", "NEW", D(2))]
    # the levels come back locked, keyed for _post
    assert {key[1] for key in picking.levels} == {bin1.pk, lots[2].pk}


def test_across_the_site_in_expiry_order_and_near_first(lots, bins):
    item, bin1, bin2 = lots
    anywhere = services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(12))
    assert picked(anywhere) == [("A-BIN1", "MID", D(5)), ("A-BIN2", "MID2", D(5)), ("A-BIN1", "NEW", D(2))]
    near = services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(3), near=bin2)
    assert picked(near) == [("A-BIN2", "MID2", D(3))]
    everything = services.stock_pick(item=item, site_id=bin1.site_id, quantity=None, exclude_within=bin2)
    assert picked(everything) == [("A-BIN1", "MID", D(5)), ("A-BIN1", "NEW", D(5))]


def test_a_named_lot_must_be_usable_unless_blocked_lots_are_allowed(lots):
    item, bin1, _ = lots
    old = Lot.objects.get(code="OLD")
    with pytest.raises(errors.LotOnHold):
        services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(1), location=bin1, lot=old)
    scrap = services.stock_pick(
        item=item, site_id=bin1.site_id, quantity=D(5), location=bin1, lot=old, allow_blocked=True
    )
    assert picked(scrap) == [("A-BIN1", "OLD", D(5))]


def test_shortfall_names_item_and_place(lots):
    item, bin1, _ = lots
    with pytest.raises(errors.InsufficientStock) as exc:
        services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(11), location=bin1)
    assert "PICK in usable lots at A-BIN1" in str(exc.value.detail) and D(exc.value.extra["available"]) == 10


def test_other_references_reservations_are_kept(lots, site_a):
    item, bin1, _ = lots
    mid = Lot.objects.get(code="MID")
    services.stock_reserve(item=item, quantity=D(5), site=site_a, reference="WO-1", lot=mid)
    # MID is WO-1's: another reference gets NEW; WO-1 itself may take its own lot.
    other = services.stock_pick(
        item=item, site_id=bin1.site_id, quantity=D(3), location=bin1, reference=("WO-2", "work_order")
    )
    assert picked(other) == [("A-BIN1", "NEW", D(3))]
    own = services.stock_pick(
        item=item, site_id=bin1.site_id, quantity=D(3), location=bin1, reference=("WO-1", "work_order")
    )
    assert picked(own) == [("A-BIN1", "MID", D(3))]
    ignoring = services.stock_pick(
        item=item, site_id=bin1.site_id, quantity=D(3), location=bin1, respect_reservations=False
    )
    assert picked(ignoring) == [("A-BIN1", "MID", D(3))]


def test_site_reservations_cap_the_pick(bins, site_a):
    _, bin1, _ = bins
    item = ItemFactory(sku="PLAIN-PICK")
    receive(item, bin1, 10)
    services.stock_reserve(item=item, quantity=D(8), site=site_a, reference="WO-1")
    with pytest.raises(errors.InsufficientStock) as exc:
        services.stock_pick(item=item, site_id=bin1.site_id, quantity=D(5), location=bin1)
    assert "the rest is reserved" in str(exc.value.detail) and D(exc.value.extra["available"]) == 2
    assert picked(services.stock_pick(item=item, site_id=bin1.site_id, quantity=None)) == [("A-BIN1", None, D(2))]


def test_issue_skips_a_lot_pinned_for_another_work_order(lots, site_a):
    item, bin1, _ = lots
    mid = Lot.objects.get(code="MID")
    services.stock_reserve(item=item, quantity=D(5), site=site_a, reference="WO-1", lot=mid, location=bin1)
    moves = services.stock_issue(item=item, quantity=D(2), location=bin1, reference="WO-2")
    assert [(m.lot.code, m.quantity) for m in moves] == [("NEW", D(2))]
