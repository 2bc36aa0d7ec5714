"""Validation shared by the stock services: quantities, units, items, locations, lots, serials."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from inventory import errors
from inventory.models import Item, Lot, SerialUnit
from tracker.models import Location

QUANTUM = Decimal("0.0001")


def _quantity(item: Item, quantity: Any, *, field: str = "quantity") -> Decimal:
    try:
        qty = quantity if isinstance(quantity, Decimal) else Decimal(str(quantity))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise errors.InvalidQuantity(f"{quantity!r} is not a quantity.", field=field) from exc
    if not qty.is_finite() or qty <= 0:
        raise errors.InvalidQuantity(f"Quantity must be greater than 0 (got {qty}).", field=field)
    if qty != qty.quantize(QUANTUM):
        raise errors.InvalidQuantity("Quantities have at most 4 decimal places.", field=field)
    if item.is_discrete and qty != qty.to_integral_value():
        raise errors.WrongUnit(f"{item.sku} is counted in {item.unit}: {qty} is not a whole number.", field=field)
    return qty


def check_unit(*, item: Item, unit: str | None) -> None:
    """Raise ``wrong_unit`` if a caller states a unit that is not the item's."""
    if unit and unit != item.unit:
        raise errors.WrongUnit(f"{item.sku} is kept in {item.unit!r}, not {unit!r}.", field="unit")


def _check_item(item: Item) -> None:
    if not item.active:
        raise errors.ItemInactive(f"Item {item.sku} is inactive.", field="item")


def _check_location(location: Location, *, field: str, real: bool = True) -> None:
    if real and location.is_virtual:
        raise errors.InvalidLocation(f"{location.code} is a virtual location.", field=field)
    if not location.active:
        raise errors.InvalidLocation(f"{location.code} is inactive.", field=field)


def _check_lot_usable(lot: Lot, *, field: str = "lot", allow_blocked: bool = False) -> None:
    if allow_blocked:
        return
    if lot.status in Lot.BLOCKED:
        raise errors.LotOnHold(f"Lot {lot.code} is {lot.get_status_display().lower()}.", field=field)
    if lot.is_expired():
        raise errors.LotExpired(f"Lot {lot.code} expired on {lot.expiry_date}.", field=field)


def _check_lot_for_item(item: Item, lot: Lot | None, *, required: bool) -> None:
    if lot is not None and lot.item_id != item.pk:
        raise errors.LotItemMismatch(f"Lot {lot.code} is not a lot of {item.sku}.", field="lot")
    if lot is not None and item.tracking == Item.Tracking.NONE:
        raise errors.LotNotAllowed(f"{item.sku} is not lot-tracked.", field="lot")
    if lot is None and required and item.is_lot_tracked:
        raise errors.LotRequired(f"{item.sku} is lot-tracked: name the lot.", field="lot")


def _serial_codes(serials: Iterable[Any] | None) -> list[str]:
    codes = [s.serial if isinstance(s, SerialUnit) else str(s).strip() for s in (serials or [])]
    if any(not c for c in codes):
        raise errors.SerialRequired("Serials cannot be blank.", field="serials")
    return codes


def _check_serial_count(item: Item, qty: Decimal, serials: Sequence[Any] | None) -> None:
    if item.is_serial_tracked:
        if not serials:
            raise errors.SerialRequired(f"{item.sku} is serial-tracked: list the serials.", field="serials")
        if Decimal(len(serials)) != qty:
            raise errors.SerialCountMismatch(f"{len(serials)} serials for a quantity of {qty}.", field="serials")
    elif serials:
        raise errors.SerialNotAllowed(f"{item.sku} is not serial-tracked.", field="serials")


def _existing_serials(item: Item, serials: Sequence[Any], *, source: Location, lot: Lot | None) -> list[SerialUnit]:
    """Lock and return the serial units, each in stock at ``source``."""
    codes = _serial_codes(serials)
    if len(set(codes)) != len(codes):
        raise errors.SerialDuplicate("A serial is listed twice.", field="serials")
    units = {
        u.serial: u for u in SerialUnit.objects.select_for_update().filter(item=item, serial__in=codes).order_by("pk")
    }
    result = []
    for code in codes:
        unit = units.get(code)
        if unit is None:
            raise errors.UnknownObject(f"No serial {code} of {item.sku}.", field="serials")
        if unit.location_id != source.pk or unit.status != SerialUnit.Status.IN_STOCK:
            raise errors.SerialNotAvailable(f"Serial {code} is not in stock at {source.code}.", field="serials")
        if lot is not None and unit.lot_id != lot.pk:
            raise errors.SerialNotAvailable(f"Serial {code} is not of lot {lot.code}.", field="serials")
        result.append(unit)
    return result


def _new_serials(item: Item, serials: Sequence[Any]) -> list[str]:
    codes = _serial_codes(serials)
    if len(set(codes)) != len(codes):
        raise errors.SerialDuplicate("A serial is listed twice.", field="serials")
    taken = list(SerialUnit.objects.filter(item=item, serial__in=codes).values_list("serial", flat=True)[:5])
    if taken:
        raise errors.SerialDuplicate(f"Serial {', '.join(taken)} of {item.sku} already exists.", field="serials")
    return codes
