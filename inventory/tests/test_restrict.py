"""``restrict()`` of the inventory querysets: one site hook each, and failing closed is logged."""

from __future__ import annotations

import logging
from unittest import mock

import pytest

from inventory.models import Item, Lot, StockMove
from tests.factories.inventory import LotItemFactory, receive

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Item, Lot, StockMove])
def test_an_exception_while_restricting_denies_and_is_logged(model, make_user, site_a, bins, caplog):
    receive(LotItemFactory(sku="R-1"), bins[1], 1, lot_code="R-L1")
    user = make_user("warehouse clerk", site_a)
    assert model.objects.restrict(user, "view").exists()
    with mock.patch.object(type(model.objects.all()), "site_q", side_effect=RuntimeError("boom")):
        with caplog.at_level(logging.WARNING, logger="tracker.scoping"):
            assert not model.objects.restrict(user, "view").exists()
    (record,) = [r for r in caplog.records if r.name == "tracker.scoping"]
    assert record.levelno == logging.WARNING
    assert model.__name__ in record.getMessage() and "(view)" in record.getMessage()


def test_items_need_a_site_and_lots_show_where_they_are_held(make_user, site_a, site_b, bins, bin_b):
    item = LotItemFactory(sku="R-2")
    receive(item, bin_b, 1, lot_code="MADE-AT-B")
    user_a, user_b = make_user("warehouse clerk", site_a), make_user("warehouse clerk", site_b)
    assert Item.objects.restrict(user_a, "view").filter(pk=item.pk).exists()  # global master data
    assert not Lot.objects.restrict(user_a, "view").filter(code="MADE-AT-B").exists()
    assert Lot.objects.restrict(user_b, "view").filter(code="MADE-AT-B").exists()
    assert not Item.objects.restrict(user_a, "frobnicate").exists()  # an unknown action denies
