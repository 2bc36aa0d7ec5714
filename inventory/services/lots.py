"""Lots: created on receipt or production, their status, and recall through genealogy."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from inventory import errors
from inventory.models import Item, Lot, SerialUnit, StockLevel, StockMove
from inventory.services.checks import _check_lot_usable
from inventory.services.posting import _publish
from tracker.audit import audit_record
from tracker.models import Location, Site
from tracker.transactions import service_atomic


def _lot_for_receipt(
    *,
    item: Item,
    code: str,
    site: Site,
    origin: str,
    reference: str,
    supplier: str = "",
    expiry_date: dt.date | None = None,
    manufactured_date: dt.date | None = None,
) -> Lot:
    code = code.strip()
    if not code:
        raise errors.LotRequired(f"{item.sku} is lot-tracked: give a lot code.", field="lot")
    if expiry_date is None and item.shelf_life_days:
        expiry_date = (manufactured_date or timezone.localdate()) + dt.timedelta(days=item.shelf_life_days)
    if expiry_date is not None and expiry_date < timezone.localdate():
        raise errors.LotExpired(f"Lot {code} expired on {expiry_date}.", field="expiry_date")
    lot, created = Lot.objects.get_or_create(
        item=item,
        code=code,
        defaults={
            "site": site,
            "origin": origin,
            "origin_reference": reference,
            "supplier": supplier,
            "expiry_date": expiry_date,
            "manufactured_date": manufactured_date,
        },
    )
    if not created:
        _check_lot_usable(lot, field="lot")
    return lot


@service_atomic
def lot_set_status(*, lot: Lot, status: str, reason: str = "", actor: Any = None) -> Lot:
    """Set a lot's status (available, quarantined, on hold, expired, recalled), audited.

    Serials of the lot in stock follow a hold (on hold) and its release (in stock).
    """
    if status not in Lot.Status.values:
        raise errors.InventoryError(f"Unknown lot status {status!r}.", field="status")
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status == Lot.Status.RECALLED and status != Lot.Status.RECALLED:
        raise errors.CountNotOpen("A recalled lot stays recalled.", field="status")
    old = lot.status
    Lot.objects.filter(pk=lot.pk).update(status=status, status_reason=reason[:500])
    lot.status, lot.status_reason = status, reason[:500]
    if status in Lot.BLOCKED:
        SerialUnit.objects.filter(lot=lot, status=SerialUnit.Status.IN_STOCK).update(status=SerialUnit.Status.ON_HOLD)
    elif old in Lot.BLOCKED:
        SerialUnit.objects.filter(lot=lot, status=SerialUnit.Status.ON_HOLD).update(status=SerialUnit.Status.IN_STOCK)
    audit_record(
        actor=actor,
        action="lot.status_changed",
        obj=lot,
        site=lot.site,
        changes={"status": [old, status], "reason": reason},
    )
    return lot


@dataclasses.dataclass
class RecallResult:
    lot: Lot
    held_lots: list[Lot]
    held_serials: list[SerialUnit]
    affected_shipments: list[dict[str, Any]]


def _downstream(lot_ids: set[int], serial_ids: set[int]) -> tuple[set[int], set[int]]:
    """Every lot and serial that (transitively) consumed the given ones; a lot's serials are part of it."""
    from inventory.selectors import genealogy_walk

    # depth bound: assemblies are not 50 levels deep
    walk = genealogy_walk(lot_ids=lot_ids, serial_ids=serial_ids, direction="forward", max_depth=50, lot_members=True)
    return walk.lots, walk.serials


@service_atomic
def lot_recall(*, lot: Lot, actor: Any = None, reason: str = "") -> RecallResult:
    """Recall a lot: it becomes recalled; every downstream lot still in stock and
    every downstream serial in stock goes on hold; returns the shipments that
    carried the lot or anything made from it."""
    lot = lot_set_status(lot=lot, status=Lot.Status.RECALLED, reason=reason or "recall", actor=actor)
    lot_ids, serial_ids = _downstream({lot.pk}, set())
    downstream_ids = lot_ids - {lot.pk}
    in_stock = set(
        StockLevel.objects.real().filter(lot_id__in=downstream_ids, on_hand__gt=0).values_list("lot_id", flat=True)
    )
    held_lots = []
    for other in Lot.objects.filter(pk__in=in_stock).exclude(status__in=Lot.BLOCKED).order_by("pk"):
        held_lots.append(
            lot_set_status(lot=other, status=Lot.Status.ON_HOLD, reason=f"recall of lot {lot.code}", actor=actor)
        )
    serials = list(SerialUnit.objects.filter(pk__in=serial_ids, status=SerialUnit.Status.IN_STOCK).order_by("pk"))
    SerialUnit.objects.filter(pk__in=[s.pk for s in serials]).update(status=SerialUnit.Status.ON_HOLD)
    shipments = (
        StockMove.objects.filter(kind=StockMove.Kind.SHIP)
        .filter(Q(lot_id__in=lot_ids) | Q(serial_id__in=serial_ids))
        .select_related("item", "lot", "serial", "source__site")
        .order_by("occurred_at", "pk")
    )
    affected = [
        {
            "move": m.pk,
            "reference": m.reference,
            "customer": m.partner,
            "item": m.item.sku,
            "lot": m.lot.code if m.lot else None,
            "serial": m.serial.serial if m.serial else None,
            "quantity": str(m.quantity),
            "shipped_at": m.occurred_at.isoformat(),
            "site": m.source.site.code,
        }
        for m in shipments
    ]
    audit_record(
        actor=actor,
        action="lot.recalled",
        obj=lot,
        site=lot.site,
        changes={"held_lots": [x.code for x in held_lots], "held_serials": len(serials), "shipments": len(affected)},
    )
    if lot.site_id is not None:
        _publish(
            site_id=lot.site_id,
            type="lot.recalled",
            data={
                "lot": {
                    "code": lot.code,
                    "item": lot.item.sku,
                    "held_lots": [x.code for x in held_lots],
                    "held_serials": len(serials),
                    "affected_shipments": len(affected),
                }
            },
        )
    return RecallResult(lot=lot, held_lots=held_lots, held_serials=serials, affected_shipments=affected)


@dataclasses.dataclass
class ZoneHold:
    """What ``zone_contents_hold`` found in the zone: each lot with its on-hand there per
    location and status before, each serial unit with its status before."""

    lots: list[tuple[Lot, Location, Decimal, str]]
    serials: list[tuple[SerialUnit, str]]


@service_atomic
def zone_contents_hold(*, zone: Location, reason: str, actor: Any = None) -> ZoneHold:
    """Put on hold every lot with stock in ``zone`` (its subtree's real locations) and every
    serial unit in stock there, through ``lot_set_status`` (audited; a lot's serials follow).

    Guarantees: a lot or serial already blocked keeps its status (and is still reported,
    with that status as its status before); calling it again changes nothing more;
    lots are locked in pk order. Holding a lot holds it at every site that has it.
    """
    levels = list(
        StockLevel.objects.real()
        .filter(location__path__startswith=zone.path, site_id=zone.site_id, on_hand__gt=0)
        .select_related("location")
        .order_by("lot_id", "location__path", "pk")
    )
    lot_ids = sorted({level.lot_id for level in levels if level.lot_id is not None})
    lots = {
        lot.pk: lot
        for lot in Lot.objects.select_for_update(of=("self",))
        .filter(pk__in=lot_ids)
        .select_related("item")
        .order_by("pk")
    }
    serials = list(
        SerialUnit.objects.select_for_update(of=("self",))
        .filter(
            location__path__startswith=zone.path, status__in=[SerialUnit.Status.IN_STOCK, SerialUnit.Status.ON_HOLD]
        )
        .select_related("item", "lot", "location")
        .order_by("pk")
    )
    prior_lot = {pk: lot.status for pk, lot in lots.items()}
    prior_serial = {unit.pk: unit.status for unit in serials}
    for lot in lots.values():
        if lot.status not in Lot.BLOCKED:
            lot_set_status(lot=lot, status=Lot.Status.ON_HOLD, reason=reason, actor=actor)
    loose = [unit.pk for unit in serials if unit.status == SerialUnit.Status.IN_STOCK]
    if loose:
        # The lot holds above already moved their serials; these are the rest (no lot, or a lot not held here).
        SerialUnit.objects.filter(pk__in=loose, status=SerialUnit.Status.IN_STOCK).update(
            status=SerialUnit.Status.ON_HOLD
        )
        audit_record(
            actor=actor,
            action="serial.held",
            obj=zone,
            site=zone.site,
            changes={"serials": len(loose), "reason": reason},
        )
    return ZoneHold(
        lots=[
            (lots[level.lot_id], level.location, level.on_hand, prior_lot[level.lot_id])
            for level in levels
            if level.lot_id is not None
        ],
        serials=[(unit, prior_serial[unit.pk]) for unit in serials],
    )


@service_atomic
def serial_hold_release(*, serial: SerialUnit, reason: str = "", actor: Any = None, force: bool = False) -> SerialUnit:
    """Release one serial unit from hold (on hold -> in stock), audited.

    A serial of a lot that is still blocked stays on hold (release the lot instead),
    unless ``force`` (a quality decision on this one unit: release it, or scrap it next).
    """
    unit = SerialUnit.objects.select_for_update(of=("self",)).select_related("lot", "location__site").get(pk=serial.pk)
    if unit.status != SerialUnit.Status.ON_HOLD:
        return unit
    if not force and unit.lot is not None and unit.lot.status in Lot.BLOCKED:
        raise errors.LotOnHold(
            f"Serial {unit.serial} belongs to lot {unit.lot.code}, which is on hold.", field="serial"
        )
    SerialUnit.objects.filter(pk=unit.pk).update(status=SerialUnit.Status.IN_STOCK)
    unit.status = SerialUnit.Status.IN_STOCK
    audit_record(
        actor=actor,
        action="serial.released",
        obj=unit,
        site=unit.location.site,
        changes={"status": [SerialUnit.Status.ON_HOLD, SerialUnit.Status.IN_STOCK], "reason": reason},
    )
    return unit
