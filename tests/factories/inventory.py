from __future__ import annotations

from decimal import Decimal

import factory

from inventory.models import Item, Lot
from tests.factories.tracker import SiteFactory


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Item {o.sku}")
    kind = Item.Kind.COMPONENT
    unit = Item.Unit.PCS
    tracking = Item.Tracking.NONE


class LotItemFactory(ItemFactory):
    tracking = Item.Tracking.LOT


class SerialItemFactory(ItemFactory):
    tracking = Item.Tracking.SERIAL


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot

    item = factory.SubFactory(LotItemFactory)
    code = factory.Sequence(lambda n: f"LOT-{n:05d}")
    site = factory.SubFactory(SiteFactory)


def receive(item, location, quantity, **kwargs):
    """Receive stock through the service (the only way quantities change)."""
    from inventory import services

    return services.stock_receive(item=item, quantity=Decimal(str(quantity)), location=location, **kwargs)
