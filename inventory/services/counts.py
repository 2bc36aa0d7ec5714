"""Cycle counts: counted quantities, variances posted as count adjustments on approval.

Separation of duties: where the site asks for it (``Site.count_approval_by_other``, on by default), a
count whose lines show a variance recorded by a person is approved by someone else. Lines without a
variance post nothing, and lines recorded by a device scan or a task have no person behind them, so
neither stops their recorder from approving.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from inventory import errors
from inventory.models import ZERO, CycleCount, CycleCountLine, Item, Lot, StockLevel, StockMove
from inventory.selectors.counts import count_approval_refusal
from inventory.services.checks import _check_location, _check_lot_for_item
from inventory.services.movements import stock_adjust
from tracker.models import Location
from tracker.request_context import actor_or_none
from tracker.transactions import service_atomic


@service_atomic
def cycle_count_create(*, location: Location, reference: str = "", actor: Any = None) -> CycleCount:
    """Open a count of ``location`` and its subtree."""
    _check_location(location, field="location")
    return CycleCount.objects.create(
        site_id=location.site_id,
        location=location,
        reference=reference,
        created_by=actor_or_none(actor),
    )


@service_atomic
def cycle_count_record(
    *,
    count: CycleCount,
    item: Item,
    location: Location,
    counted: Decimal,
    lot: Lot | None = None,
    actor: Any = None,
) -> CycleCountLine:
    """Record a counted quantity; the expected quantity is the level at this moment.

    Recording the same (item, location, lot) again replaces the counted value, and its counter.
    """
    count = CycleCount.objects.select_for_update().get(pk=count.pk)
    if count.status != CycleCount.Status.OPEN:
        raise errors.CountNotOpen("The count is not open.", field="count")
    if not location.path.startswith(count.location.path) or location.is_virtual:
        raise errors.InvalidLocation("The location is not in the counted area.", field="location")
    _check_lot_for_item(item, lot, required=True)
    try:
        value = Decimal(str(counted))
    except InvalidOperation as exc:
        raise errors.InvalidQuantity("Counted quantity is not a number.", field="counted") from exc
    if value < 0:
        raise errors.InvalidQuantity("A counted quantity cannot be negative.", field="counted")
    if value and item.is_discrete and value != value.to_integral_value():
        raise errors.WrongUnit(f"{item.sku} is counted in {item.unit}.", field="counted")
    level = StockLevel.objects.filter(item=item, location=location, lot=lot).first()
    expected = level.on_hand if level else ZERO
    line, _ = CycleCountLine.objects.update_or_create(
        count=count,
        item=item,
        location=location,
        lot=lot,
        defaults={
            "counted": value,
            "expected": expected,
            "counted_at": timezone.now(),
            "counted_by": actor_or_none(actor),
        },
    )
    return line


@service_atomic
def cycle_count_approve(*, count: CycleCount, actor: Any = None) -> list[StockMove]:
    """Approve a count: each line's variance (counted - expected) posts as a count adjustment.

    Guarantees: all variances post or none; the count can be approved once; where the site separates
    duties, not by a person who counted one of its variances (``separation_of_duties``, nothing posted).
    """
    count = CycleCount.objects.select_for_update().select_related("site").get(pk=count.pk)
    if count.status not in (CycleCount.Status.OPEN, CycleCount.Status.SUBMITTED):
        raise errors.CountNotOpen("The count was already approved or cancelled.", field="count")
    reason = count_approval_refusal(count=count, user=actor)
    if reason:
        raise errors.CountApprovalByCounter(reason, field="count")
    moves: list[StockMove] = []
    for line in count.lines.select_related("item", "location", "lot").order_by("pk"):
        variance = line.variance
        if not variance:
            continue
        if line.item.is_serial_tracked:
            continue  # serials are counted by scanning, not by quantity; not adjusted here
        moves += stock_adjust(
            item=line.item,
            location=line.location,
            quantity_delta=variance,
            lot=line.lot,
            reason=f"cycle count {count.pk}",
            actor=actor,
            kind=StockMove.Kind.COUNT,
            reference=count.reference or f"COUNT-{count.pk}",
            reference_type="count",
        )
    CycleCount.objects.filter(pk=count.pk).update(
        status=CycleCount.Status.APPROVED,
        approved_at=timezone.now(),
        approved_by=actor_or_none(actor),
    )
    return moves
