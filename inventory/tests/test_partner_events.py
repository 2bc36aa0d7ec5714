"""Receipts, shipments and recalls are announced (pages and webhooks) after commit."""

from __future__ import annotations

from decimal import Decimal as D
from unittest import mock

import pytest

from inventory import services
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory

pytestmark = pytest.mark.django_db


def _types(broadcast: mock.Mock) -> list[str]:
    return [c.kwargs["type"] for c in broadcast.call_args_list]


def test_receipt_shipment_and_recall_are_broadcast():
    site = SiteFactory()
    bin_ = LocationFactory(site=site, kind="bin")
    item, lotted = ItemFactory(), LotItemFactory()
    with mock.patch("inventory.services.broadcast") as broadcast:
        services.receipt_create(
            site=site,
            reference="PO-9",
            supplier="Acme",
            lines=[
                {"item": item, "quantity": D(5), "location": bin_},
            ],
        )
        assert "receipt.posted" in _types(broadcast)
        event = next(c.kwargs for c in broadcast.call_args_list if c.kwargs["type"] == "receipt.posted")
        assert event["site_id"] == site.pk and event["data"]["receipt"]["reference"] == "PO-9"
        services.shipment_create(
            site=site,
            reference="SO-9",
            customer="Zed",
            lines=[
                {"item": item, "quantity": D(2), "location": bin_},
            ],
        )
        assert "shipment.posted" in _types(broadcast)
        receive(lotted, bin_, 3, lot_code="L-9")
        services.lot_recall(lot=lotted.lots.get(code="L-9"), reason="supplier notice")
        assert "lot.recalled" in _types(broadcast)
