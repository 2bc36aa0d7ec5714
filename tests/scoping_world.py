"""Two sites holding one of everything, for the scoping tests of pages and writes.

Every code of site A starts with ``ALPHA`` and every code of site B with
``BRAVO``, so a page that leaks B shows a ``BRAVO-...`` code. Items are global
master data: their SKUs carry the prefix too, so check B's leaks by codes that
belong to the site (locations, lots, serials, work orders, stations), not SKUs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from devices.models import Device, UnknownTag
from inventory import services as inventory
from inventory.forecasting.models import DemandForecast
from inventory.models import CycleCount, Lot, Receipt, SerialUnit, Shipment, StockReservation
from tests.factories.devices import DeviceFactory, TagFactory
from tests.factories.inventory import SerialItemFactory, receive
from tests.factories.tracker import SiteFactory, user_with_role
from tests.factories.wip import Plant, WorkOrderFactory, make_plant
from tracker import services as tracker
from tracker.models import Alert, Location, Site
from wip import services as wip
from wip.models import Defect, Hold, OperationRun, WorkOrder


@dataclass
class SiteWorld:
    prefix: str
    site: Site
    plant: Plant
    stores: Location
    lot: Lot
    serial: SerialUnit
    order: WorkOrder  # released: step 10 queued at the cut station
    run: OperationRun
    held: WorkOrder  # released, step 10 started with an open defect, then on hold
    defect: Defect
    hold: Hold
    alert: Alert
    count: CycleCount
    reservation: StockReservation
    receipt: Receipt
    shipment: Shipment
    device: Device
    unknown: UnknownTag
    forecast: DemandForecast


def site_world(prefix: str) -> SiteWorld:
    site = SiteFactory(code=prefix.lower(), name=f"{prefix.title()} Works")
    plant = make_plant(site, prefix=prefix)
    stores = plant.stores
    serial_item = SerialItemFactory(sku=f"{prefix}-PUMP")
    (serial_move,) = receive(serial_item, stores, 1, serials=[f"{prefix}-SN-1"])

    order = WorkOrderFactory(routing=plant.routing, number=f"{prefix}-WO-1", quantity=Decimal(2))
    wip.work_order_release(work_order=order)
    run = OperationRun.objects.get(work_order=order, sequence=10)

    held = WorkOrderFactory(routing=plant.routing, number=f"{prefix}-WO-2", quantity=Decimal(2))
    wip.work_order_release(work_order=held)
    first = OperationRun.objects.get(work_order=held, sequence=10)
    wip.operation_start(run=first)
    # Found at a running step, the service wants a disposition at once: an open one is made directly.
    defect = Defect.objects.create(
        site=site,
        work_order=held,
        run=first,
        workstation=first.workstation,
        code=f"{prefix}-DENT",
        quantity=Decimal(1),
        reported_at=timezone.now(),
    )
    hold = wip.hold_place(work_order=held, reason=f"{prefix} hold reason")

    alert, _ = tracker.alert_raise(
        site=site, kind="test", subject=f"{prefix}-thing", message=f"{prefix} needs attention"
    )
    count = inventory.cycle_count_create(location=stores, reference=f"{prefix}-COUNT")
    reservation = inventory.stock_reserve(item=plant.screws, quantity=Decimal(1), site=site, reference=f"{prefix}-RES")
    receipt = inventory.receipt_create(
        site=site,
        reference=f"{prefix}-PO",
        supplier=f"{prefix} Supplier",
        lines=[{"item": plant.screws, "quantity": Decimal(5), "location": stores}],
    )
    shipment = inventory.shipment_create(
        site=site,
        reference=f"{prefix}-SO",
        customer=f"{prefix} Customer",
        lines=[{"item": plant.screws, "quantity": Decimal(1), "location": stores}],
    )
    device = DeviceFactory(site=site, device_id=f"{prefix}-READER")
    now = timezone.now()
    unknown = UnknownTag.objects.create(
        tag=TagFactory(site=site, tag_id=f"epc:hex:{prefix}"), site=site, first_seen_at=now, last_seen_at=now, reads=1
    )
    week = (timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())).isoformat()
    forecast = DemandForecast.objects.create(
        item=plant.screws,
        site=site,
        computed_at=now,
        status=DemandForecast.Status.OK,
        method="croston",
        sigma_weekly=1.0,
        history=[[week, 7.0]],
        forecast=[[week, 5.0, 4.0, 6.0]],
        message=f"{prefix} forecast",
    )
    return SiteWorld(
        prefix=prefix,
        site=site,
        plant=plant,
        stores=stores,
        lot=plant.steel_lots[0],
        serial=serial_move.serial,
        order=order,
        run=run,
        held=held,
        defect=defect,
        hold=hold,
        alert=alert,
        count=count,
        reservation=reservation,
        receipt=receipt,
        shipment=shipment,
        device=device,
        unknown=unknown,
        forecast=forecast,
    )


@dataclass
class TwoSites:
    a: SiteWorld
    b: SiteWorld

    def user(self, role: str = "plant manager", **kwargs):
        """A user holding site A only."""
        return user_with_role(role, self.a.site, **kwargs)


def two_sites() -> TwoSites:
    return TwoSites(site_world("ALPHA"), site_world("BRAVO"))
