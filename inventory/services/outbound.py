"""Issue, ship and scrap: one shared body (``_outbound``), each a declaration of its differences."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from inventory.locks import lock_levels
from inventory.models import Item, Lot, SerialUnit, StockMove
from inventory.services.checks import (
    _check_item,
    _check_location,
    _check_lot_for_item,
    _check_lot_usable,
    _check_serial_count,
    _quantity,
)
from inventory.services.picking import _site_lock_q, stock_pick
from inventory.services.posting import _Context, _Leg, _post, _resolve_serial_lot_legs, _set_serials
from inventory.services.reservations import _settle_reservation
from tracker.models import Location, LocationKind
from tracker.services import virtual_location
from tracker.transactions import service_atomic


@dataclasses.dataclass(frozen=True, slots=True)
class _Outbound:
    """What tells issue, ship and scrap apart; ``_outbound`` is everything they share."""

    kind: str  # StockMove.Kind
    destination: str  # the site's virtual LocationKind the goods go to
    serial_status: str  # what serial units taken become
    fefo: bool  # without a named lot, pick the lots (else the lot must be named)
    respect_reservations: bool  # leave other references' reservations alone
    allow_blocked: bool  # held, quarantined, recalled and expired lots may go too


_ISSUE = _Outbound(
    StockMove.Kind.ISSUE,
    LocationKind.PRODUCTION,
    SerialUnit.Status.CONSUMED,
    fefo=True,
    respect_reservations=True,
    allow_blocked=False,
)


_SHIP = _Outbound(
    StockMove.Kind.SHIP,
    LocationKind.CUSTOMER,
    SerialUnit.Status.SHIPPED,
    fefo=True,
    respect_reservations=True,
    allow_blocked=False,
)


# Lost stock is lost: scrap ignores reservations, and it is how blocked or expired lots leave stock.
_SCRAP = _Outbound(
    StockMove.Kind.SCRAP,
    LocationKind.SCRAP,
    SerialUnit.Status.SCRAPPED,
    fefo=False,
    respect_reservations=False,
    allow_blocked=True,
)


def _outbound(
    spec: _Outbound,
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None,
    serials: Sequence[Any] | None,
    reference: str,
    reference_type: str,
    actor: Any,
    occurred_at: dt.datetime | None,
    partner: str = "",
    external_id: str = "",
    note: str = "",
    settle_reservation: bool = False,
) -> list[StockMove]:
    """The shared body of issue, ship and scrap: from a real location to one of the site's
    virtual locations, the stock chosen by ``stock_pick``; with ``settle_reservation`` the
    reference's own reservation is consumed by what left."""
    destination = virtual_location(site=location.site_id, kind=spec.destination)
    ctx = _Context(
        kind=spec.kind,
        reference=reference,
        reference_type=reference_type,
        partner=partner,
        external_id=external_id,
        note=note,
        actor=actor,
        occurred_at=occurred_at,
    )
    _check_item(item)
    qty = _quantity(item, quantity)
    _check_location(location, field="location")
    _check_serial_count(item, qty, serials)
    _check_lot_for_item(item, lot, required=not spec.fefo)
    if lot is not None:
        _check_lot_usable(lot, allow_blocked=spec.allow_blocked)
    units: list[SerialUnit] = []
    if item.is_serial_tracked:
        # The serials name what is taken; lock the item's levels at the site before them, as always.
        lock_levels([], site_ids={}, also=_site_lock_q(item, location.site_id))
        legs, units = _resolve_serial_lot_legs(
            item=item, qty=qty, source=location, destination=destination, lot=lot, serials=serials
        )
    picking = stock_pick(
        item=item,
        site_id=location.site_id,
        quantity=qty,
        location=location,
        lot=lot,
        reference=(reference, reference_type) if reference else None,
        respect_reservations=spec.respect_reservations,
        allow_blocked=spec.allow_blocked,
    )
    if not item.is_serial_tracked:
        legs = [_Leg(item, pick.quantity, location, destination, pick.lot) for pick in picking.picks]
    moves = _post(legs, ctx, preloaded=picking.levels)
    _set_serials(units, location=destination, status=spec.serial_status)
    if settle_reservation and reference:
        _settle_reservation(
            item=item, site_id=location.site_id, reference=reference, reference_type=reference_type, moves=moves
        )
    return moves


@service_atomic
def stock_issue(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reference: str = "",
    reference_type: str = "work_order",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    release_reservation: bool = True,
) -> list[StockMove]:
    """Issue material from ``location`` to the site's production (WIP) location.

    Guarantees: a lot-tracked item without ``lot`` is picked FEFO from usable
    lots at the location (possibly several moves); blocked or expired lots
    are refused; stock reserved for other references is not taken
    (``insufficient_stock``); the open reservation of (reference, item) is
    consumed by the issued quantity when ``release_reservation``.
    """
    return _outbound(
        _ISSUE,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        settle_reservation=release_reservation,
    )


@service_atomic
def stock_ship(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reference: str = "",
    reference_type: str = "sales_order",
    customer: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
) -> list[StockMove]:
    """Ship goods from ``location`` to the site's customer location against a sales reference.

    Guarantees as ``stock_issue`` (FEFO when no lot is named, blocked/expired
    lots refused, others' reservations respected); the reservation of
    (reference, item) is consumed; shipped serials leave stock.
    """
    return _outbound(
        _SHIP,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        partner=customer,
        external_id=external_id,
        settle_reservation=True,
    )


@service_atomic
def stock_scrap(
    *,
    item: Item,
    quantity: Decimal,
    location: Location,
    lot: Lot | None = None,
    serials: Sequence[Any] | None = None,
    reason: str = "",
    reference: str = "",
    reference_type: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> list[StockMove]:
    """Scrap goods from ``location`` to the site's scrap location.

    Guarantees: the lot must be named for a lot-tracked item; expired and
    held lots *may* be scrapped (that is how they leave stock); the location
    never goes negative.
    """
    return _outbound(
        _SCRAP,
        item=item,
        quantity=quantity,
        location=location,
        lot=lot,
        serials=serials,
        reference=reference,
        reference_type=reference_type,
        actor=actor,
        occurred_at=occurred_at,
        note=reason,
    )
