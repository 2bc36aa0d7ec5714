"""Step 4 of the pipeline: call the owning services for the moves that happened.

Devices never decide business effects themselves (DESIGN.md section 2): a work
order (or its tote) settling in a workstation's zone arrives there through
``wip.services.operation_arrive``; a tagged serial unit or lot settling in a new
zone is transferred there through ``inventory.services.stock_transfer``;
containers and assets are tracked by their tag state only.

Only actual moves reach this module, never individual reads. Each effect runs in
a savepoint: a business rule refusing one (a lot on hold, a work order not
routed to that station) is recorded on the upload and leaves the other effects
of the upload in place; anything else aborts the whole upload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from devices.pipeline.resolve import Target, Zone
from inventory import services as inventory_services
from inventory.models import Item, Lot, SerialUnit, StockLevel, StockMove
from tracker.errors import DomainError
from tracker.models import Location
from wip import services as wip_services
from wip.models import WorkOrder, Workstation

MAX_ERRORS_KEPT = 50


@dataclass(frozen=True, slots=True)
class TagMove:
    tag_pk: int
    tag_id: str
    from_zone: Zone | None
    to_zone: Zone
    at: dt.datetime
    target: Target | None


@dataclass(slots=True)
class EffectContext:
    upload: Any
    counters: dict[str, int]
    errors: list[dict[str, str]] = field(default_factory=list)
    objects: dict[str, dict[int, Any]] = field(default_factory=dict)  # kind -> {pk: object}

    @property
    def reference(self) -> str:
        return f"upload:{self.upload.pk}"

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def location(self, zone: Zone) -> Location:
        return self.objects["location"][zone.id]

    def workstation(self, zone: Zone) -> Workstation | None:
        return self.objects["workstation"].get(zone.id)


Handler = Callable[[TagMove, EffectContext], None]


def apply_moves(*, moves: list[TagMove], ctx: EffectContext) -> None:
    """Apply the effects of ``moves`` in time order (each in its own savepoint)."""
    moves = sorted(moves, key=lambda m: (m.at, m.tag_id))
    _preload(moves, ctx)
    for move in moves:
        target = move.target
        handler = HANDLERS.get(target.kind) if target is not None else None
        if handler is None or target is None:
            continue
        try:
            with transaction.atomic():
                handler(move, ctx)
        except DomainError as exc:
            ctx.count("effect_errors")
            if len(ctx.errors) < MAX_ERRORS_KEPT:
                ctx.errors.append(
                    {
                        "tag": move.tag_id,
                        "zone": move.to_zone.code,
                        "target": target.label,
                        "code": exc.code,
                        "detail": str(exc.detail)[:300],
                    }
                )


# --------------------------------------------------------------------------- loading


def _preload(moves: list[TagMove], ctx: EffectContext) -> None:
    """Everything the handlers need, in one query per kind (not one per move)."""
    wanted: dict[str, set[int]] = {"serial": set(), "lot": set(), "work_order": set()}
    zones: set[int] = set()
    station_zones: set[int] = set()
    for move in moves:
        target = move.target
        if target is None or target.kind not in HANDLERS:
            continue
        zones.add(move.to_zone.id)
        if target.serial_id:
            wanted["serial"].add(target.serial_id)
        elif target.lot_id:
            wanted["lot"].add(target.lot_id)
        elif target.work_order_id:
            wanted["work_order"].add(target.work_order_id)
            station_zones.add(move.to_zone.id)
    ctx.objects["location"] = Location.objects.in_bulk(zones) if zones else {}
    ctx.objects["serial"] = (
        SerialUnit.objects.select_related("item", "location", "lot").in_bulk(wanted["serial"])
        if wanted["serial"]
        else {}
    )
    ctx.objects["lot"] = Lot.objects.select_related("item").in_bulk(wanted["lot"]) if wanted["lot"] else {}
    ctx.objects["work_order"] = WorkOrder.objects.in_bulk(wanted["work_order"]) if wanted["work_order"] else {}
    ctx.objects["workstation"] = stations_for_zones(station_zones)


def stations_for_zones(zone_ids: set[int]) -> dict[int, Workstation]:
    """{zone id: Workstation}: the station whose location is the zone, or the only
    station directly inside it (a read point covering a station's infeed area)."""
    if not zone_ids:
        return {}
    found: dict[int, Workstation] = {}
    children: dict[int, list[Workstation]] = {}
    for station in Workstation.objects.filter(
        Q(location_id__in=zone_ids) | Q(location__parent_id__in=zone_ids), active=True
    ).select_related("location"):
        if station.location_id in zone_ids:
            found[station.location_id] = station
        elif station.location.parent_id in zone_ids:
            children.setdefault(station.location.parent_id, []).append(station)
    for zone_id, stations in children.items():
        if zone_id not in found and len(stations) == 1:
            found[zone_id] = stations[0]
    return found


# --------------------------------------------------------------------------- handlers


def _inside(location: Location, zone: Location) -> bool:
    return location.pk == zone.pk or location.path.startswith(zone.path)


def _work_order_arrives(move: TagMove, ctx: EffectContext) -> None:
    """A work order's traveler or tote settled at a workstation's zone: it arrives
    in that station's queue (wip decides whether that means anything)."""
    pk = move.target.work_order_id if move.target is not None else None
    work_order = ctx.objects["work_order"].get(pk) if pk is not None else None
    station = ctx.workstation(move.to_zone)
    if work_order is None or station is None:
        ctx.count("moves_without_effect")
        return
    result = wip_services.operation_arrive(workstation=station, work_order=work_order, occurred_at=move.at)
    if result.changed:
        ctx.count("arrivals")
    else:
        ctx.count("arrivals_ignored")


def _serial_transferred(move: TagMove, ctx: EffectContext) -> None:
    """A tagged serial unit settled in a new zone: one ledger transfer to it.

    A unit recorded missing in transit (a transfer order closed without it) is not booked
    by a read: inventory raises an alert where it was read, for a person to book it found
    (``transfer_order_serial_sighted`` says why). A unit travelling on a transfer order is
    received on it when read at a dock of its destination site; read elsewhere it is not
    moved, and inventory decides whether that is worth an alert
    (``transfer_order_serial_read`` says where and why)."""
    pk = move.target.serial_id if move.target is not None else None
    unit: SerialUnit | None = ctx.objects["serial"].get(pk) if pk is not None else None
    destination = ctx.location(move.to_zone)
    if unit is not None and unit.status == SerialUnit.Status.MISSING:
        inventory_services.transfer_order_serial_sighted(
            unit=unit, location=destination, occurred_at=move.at, reference=ctx.reference
        )
        ctx.count("missing_serials_sighted")
        return
    if unit is not None and unit.status == SerialUnit.Status.IN_TRANSIT:
        read = inventory_services.transfer_order_serial_read(
            unit=unit, location=destination, occurred_at=move.at, reference=ctx.reference
        )
        if read.moves:
            ctx.count("transfer_receipts")
            # In stock at the dock now: a later move of this upload starts from there.
            unit.status, unit.location = SerialUnit.Status.IN_STOCK, destination
        elif read.alert is not None:
            ctx.count("in_transit_serials_sighted")
        else:
            ctx.count("moves_without_effect")
        return
    if unit is None or unit.status != SerialUnit.Status.IN_STOCK or unit.location.is_virtual:
        ctx.count("moves_without_effect")
        return
    if _inside(unit.location, destination):
        ctx.count("moves_already_booked")
        return
    inventory_services.stock_transfer(
        item=unit.item,
        quantity=Decimal(1),
        source=unit.location,
        destination=destination,
        serials=[unit],
        reference=ctx.reference,
        reference_type=StockMove.ReferenceType.DEVICE,
        occurred_at=move.at,
    )
    unit.location = destination  # stock_transfer updated the row; later moves start from here
    ctx.count("transfers")


def _lot_transferred(move: TagMove, ctx: EffectContext) -> None:
    """A tagged lot (its pallet or bin) settled in a new zone: its stock moves there.

    The source is the lot's stock inside the zone the tag came from; without one,
    the lot's only real location in the site. Stock already inside the new zone
    stays where it is; an ambiguous source is refused rather than guessed.
    """
    pk = move.target.lot_id if move.target is not None else None
    lot: Lot | None = ctx.objects["lot"].get(pk) if pk is not None else None
    destination = ctx.location(move.to_zone)
    if lot is None:
        ctx.count("moves_without_effect")
        return
    if lot.item.tracking == Item.Tracking.SERIAL:
        raise _Refused("serial_tracked_lot", f"Lot {lot.code} holds serial units: tag the units, not the lot.")
    # Read at a dock of the site it travels to on a transfer order: that is its receipt.
    if inventory_services.transfer_order_receive_tagged(lot=lot, location=destination, occurred_at=move.at):
        ctx.count("transfer_receipts")
        return
    origin = None
    if move.from_zone is not None:
        origin = ctx.objects["location"].get(move.from_zone.id) or Location.objects.get(pk=move.from_zone.id)
    # The one picking rule (locked; a held lot is refused): the lot's stock outside the new zone, from
    # inside the zone the tag came from when it holds any. Moving inside one site leaves what the site
    # has available as it was, so reservations neither limit the move nor are consumed by it.
    picks = inventory_services.stock_pick(
        item=lot.item,
        site_id=destination.site_id,
        quantity=None,
        lot=lot,
        near=origin,
        exclude_within=destination,
        respect_reservations=False,
    ).picks
    if not picks:
        ctx.count("moves_already_booked")
        return
    if len({pick.location.pk for pick in picks}) > 1 and move.from_zone is None:
        raise _Refused("ambiguous_source", f"Lot {lot.code} is stocked in several places; which one moved is unknown.")
    for pick in picks:
        inventory_services.stock_transfer(
            item=lot.item,
            quantity=pick.quantity,
            source=pick.location,
            destination=destination,
            lot=lot,
            reference=ctx.reference,
            reference_type=StockMove.ReferenceType.DEVICE,
            occurred_at=move.at,
        )
        ctx.count("transfers")


class _Refused(DomainError):
    status = 409

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


HANDLERS: dict[str, Handler] = {
    "work_order": _work_order_arrives,
    "serial": _serial_transferred,
    "lot": _lot_transferred,
}


def lots_in_zone(zone: Location) -> list[tuple[str, str]]:
    """Lots with stock inside ``zone`` (subjects of ``zone_lots`` threshold rules)."""
    rows = (
        StockLevel.objects.filter(
            lot__isnull=False, on_hand__gt=0, location__path__startswith=zone.path, site_id=zone.site_id
        )
        .values_list("lot__code", "lot__item__sku")
        .distinct()
        .order_by("lot__code")
    )
    return [(code, sku) for code, sku in rows]
