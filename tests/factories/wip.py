"""Factories for wip: stations, routings, BOMs and work orders (through the services)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import factory

from inventory.models import Item
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory
from wip import services
from wip.models import (
    BillOfMaterials,
    BomLine,
    CheckItem,
    Operation,
    Routing,
    WorkOrder,
    Workstation,
    WorkstationGroup,
)


class WorkstationGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkstationGroup

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"grp-{n}")
    name = factory.LazyAttribute(lambda o: f"Group {o.code}")


class WorkstationFactory(factory.django.DjangoModelFactory):
    """A workstation location plus its Workstation row (``code`` names both)."""

    class Meta:
        model = Workstation

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"WS-{n:04d}")
    capacity = 1
    wip_limit = None
    group = None

    @classmethod
    def _create(cls, model_class, *args, site, code, parent=None, operators=(), **kwargs):
        location = LocationFactory(site=site, code=code, kind="workstation", parent=parent, name=f"Station {code}")
        return services.workstation_create(location=location, operators=operators, **kwargs)


class RoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Routing

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"RT-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Routing {o.code}")
    item = factory.SubFactory(ItemFactory, kind=Item.Kind.FINISHED_GOOD)


class OperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operation

    routing = factory.SubFactory(RoutingFactory)
    sequence = factory.Sequence(lambda n: (n + 1) * 10)
    name = factory.LazyAttribute(lambda o: f"Step {o.sequence}")
    setup_minutes = Decimal("0")
    run_minutes_per_unit = Decimal("1")


class CheckItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckItem

    operation = factory.SubFactory(OperationFactory)
    name = factory.Sequence(lambda n: f"check-{n}")


class BomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillOfMaterials

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"BOM-{n:04d}")
    item = factory.SubFactory(ItemFactory)


class BomLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BomLine

    bom = factory.SubFactory(BomFactory)
    component = factory.SubFactory(ItemFactory)
    quantity_per_unit = Decimal("1")


class WorkOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkOrder

    number = factory.Sequence(lambda n: f"WO-{n:05d}")
    quantity = Decimal("10")

    @classmethod
    def _create(cls, model_class, *args, routing, **kwargs):
        kwargs.setdefault("site", routing.site)
        kwargs.setdefault("item", routing.item)
        return services.work_order_create(routing=routing, **kwargs)


@dataclass
class Plant:
    """A small plant: three stations, a three-step routing with an inspection
    at the last step, a lot-tracked finished good and two components in stock."""

    site: object
    stores: object
    cut: Workstation
    assemble: Workstation
    test: Workstation
    product: Item
    steel: Item  # lot-tracked, 2 per unit, consumed at step 10
    screws: Item  # untracked, 4 per unit, consumed at step 20
    routing: Routing
    bom: BillOfMaterials
    steel_lots: list


def make_plant(site=None, *, prefix: str = "P", steel_qty: int = 100, screws_qty: int = 500) -> Plant:
    site = site or SiteFactory()
    area = LocationFactory(site=site, kind="area", code=f"{prefix}-FLOOR")
    stores = LocationFactory(site=site, kind="bin", parent=area, code=f"{prefix}-STORES")
    cut = WorkstationFactory(site=site, code=f"{prefix}-CUT", parent=area, supply_location=stores)
    assemble = WorkstationFactory(site=site, code=f"{prefix}-ASM", parent=area, supply_location=stores)
    test = WorkstationFactory(site=site, code=f"{prefix}-TEST", parent=area, supply_location=stores)
    product = LotItemFactory(sku=f"{prefix}-WIDGET", kind=Item.Kind.FINISHED_GOOD)
    steel = LotItemFactory(sku=f"{prefix}-STEEL", kind=Item.Kind.RAW_MATERIAL)
    screws = ItemFactory(sku=f"{prefix}-SCREW")
    routing = RoutingFactory(site=site, code=f"{prefix}-RT-WIDGET", item=product)
    OperationFactory(
        routing=routing,
        sequence=10,
        name="Cut",
        workstation=cut,
        setup_minutes=Decimal("10"),
        run_minutes_per_unit=Decimal("2"),
    )
    OperationFactory(
        routing=routing,
        sequence=20,
        name="Assemble",
        workstation=assemble,
        setup_minutes=Decimal("5"),
        run_minutes_per_unit=Decimal("3"),
        allow_split=True,
    )
    final = OperationFactory(
        routing=routing,
        sequence=30,
        name="Test",
        workstation=test,
        setup_minutes=Decimal("0"),
        run_minutes_per_unit=Decimal("1"),
        inspection_required=True,
    )
    CheckItemFactory(operation=final, name="visual", kind="pass_fail", sequence=1)
    CheckItemFactory(
        operation=final,
        name="torque",
        kind="measurement",
        sequence=2,
        lower_limit=Decimal("10"),
        upper_limit=Decimal("12"),
        unit="Nm",
    )
    bom = BomFactory(site=site, code=f"{prefix}-BOM-WIDGET", item=product)
    BomLineFactory(bom=bom, component=steel, quantity_per_unit=Decimal("2"), operation_sequence=10)
    BomLineFactory(bom=bom, component=screws, quantity_per_unit=Decimal("4"), operation_sequence=20)
    lots = []
    half = steel_qty // 2
    for n, qty in enumerate((half, steel_qty - half), start=1):
        moves = receive(steel, stores, qty, lot_code=f"{prefix}-STEEL-L{n}")
        lots.append(moves[0].lot)
    receive(screws, stores, screws_qty)
    return Plant(site, stores, cut, assemble, test, product, steel, screws, routing, bom, lots)
