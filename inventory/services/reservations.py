"""Reservations: stock promised to a reference, checked and released under the level locks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from inventory import errors
from inventory.locks import apply_reserved, lock_levels
from inventory.models import ZERO, Item, Lot, StockLevel, StockMove, StockReservation
from inventory.services.alerts import _check_reorder
from inventory.services.checks import _check_item, _check_lot_for_item, _quantity
from inventory.services.picking import _site_lock_q, site_available
from tracker.models import Location, Site
from tracker.request_context import actor_or_none
from tracker.transactions import service_atomic


def _consume_reservations(*, item: Item, reference: str, reference_type: str, quantity: Decimal) -> None:
    remaining = quantity
    open_reservations = (
        StockReservation.objects.select_for_update()
        .filter(item=item, reference=reference, reference_type=reference_type, status=StockReservation.Status.OPEN)
        .order_by("pk")
    )
    for reservation in open_reservations:
        if remaining <= 0:
            break
        take = min(reservation.quantity, remaining)
        remaining -= take
        _reservation_reduce(reservation, take, StockReservation.Status.CONSUMED)


def _reservation_reduce(reservation: StockReservation, amount: Decimal, closing_status: str) -> None:
    if reservation.location_id is not None:
        level = (
            StockLevel.objects.select_for_update()
            # lot=None matches the level without a lot (the stubs refuse None for lot_id).
            .filter(item_id=reservation.item_id, location_id=reservation.location_id, lot=reservation.lot_id)
            .order_by("pk")
            .first()
        )
        if level is not None:
            apply_reserved(level, -min(amount, level.reserved))
    left = reservation.quantity - amount
    updates: dict[str, Any] = {"quantity": left}
    if left <= 0:
        updates.update(status=closing_status, closed_at=timezone.now())
    StockReservation.objects.filter(pk=reservation.pk).update(**updates)


def _settle_reservation(
    *, item: Item, site_id: int, reference: str, reference_type: str, moves: list[StockMove]
) -> None:
    """Consume the reservation that the outbound ``moves`` fulfil, then re-check the
    reorder point (releasing a reservation changes what is available)."""
    _consume_reservations(
        item=item, reference=reference, reference_type=reference_type, quantity=sum((m.quantity for m in moves), ZERO)
    )
    _check_reorder(item=item, site_id=site_id)


@service_atomic
def stock_reserve(
    *,
    item: Item,
    quantity: Decimal,
    site: Site,
    reference: str,
    reference_type: str = "work_order",
    lot: Lot | None = None,
    location: Location | None = None,
    actor: Any = None,
) -> StockReservation:
    """Reserve ``quantity`` of ``item`` at ``site`` for a reference.

    Guarantees: checked under the locks of the item's levels at the site, so
    two reservations never promise the same stock (``insufficient_stock``
    if available < quantity); a location-pinned reservation also raises
    that level's ``reserved``.
    """
    _check_item(item)
    qty = _quantity(item, quantity)
    if not reference:
        raise errors.InventoryError("A reservation needs a reference.", field="reference")
    _check_lot_for_item(item, lot, required=False)
    if location is not None and location.site_id != site.pk:
        raise errors.InvalidLocation("The location is not at that site.", field="location")
    levels = lock_levels([], site_ids={}, also=_site_lock_q(item, site.pk))
    available = site_available(item=item, site_id=site.pk, lot=lot)
    if location is not None:
        at = [lv for lv in levels.values() if lv.location_id == location.pk and (lot is None or lv.lot_id == lot.pk)]
        available = min(available, sum((lv.on_hand - lv.reserved for lv in at), ZERO))
    if available < qty:
        raise errors.InsufficientStock(
            f"Only {max(available, ZERO).normalize():f} {item.unit} of {item.sku} available to reserve.",
            field="quantity",
            available=str(available),
        )
    reservation = StockReservation.objects.create(
        item=item,
        site=site,
        lot=lot,
        location=location,
        quantity=qty,
        quantity_requested=qty,
        reference=reference,
        reference_type=reference_type,
        actor=actor_or_none(actor),
    )
    if location is not None:
        key = (item.pk, location.pk, lot.pk if lot else None)
        level = levels.get(key) or lock_levels([key], site_ids={location.pk: site.pk})[key]
        apply_reserved(level, qty)
    _check_reorder(item=item, site_id=site.pk)
    return reservation


@service_atomic
def stock_release_reservation(*, reference: str, reference_type: str = "work_order", item: Item | None = None) -> int:
    """Release the open reservations of a reference (of one item, or all). Returns how many.

    Locks the items' levels at their sites first, then the reservations: the
    same order as issue and reserve, so they never deadlock with each other.
    """
    query = StockReservation.objects.filter(
        reference=reference, reference_type=reference_type, status=StockReservation.Status.OPEN
    )
    if item is not None:
        query = query.filter(item=item)
    pairs = sorted(set(query.values_list("item_id", "site_id")))
    if pairs:
        also = Q(pk__in=[])
        for item_id, site_id in pairs:
            also |= Q(item_id=item_id, site_id=site_id, location__is_virtual=False)
        lock_levels([], site_ids={}, also=also)
    released = list(query.select_for_update().order_by("pk"))
    for reservation in released:
        _reservation_reduce(reservation, reservation.quantity, StockReservation.Status.RELEASED)
    for item_id, site_id in sorted({(r.item_id, r.site_id) for r in released}):
        _check_reorder(item=Item.objects.get(pk=item_id), site_id=site_id)
    return len(released)
