"""What a handheld's action scans do: the inventory service each action names.

A scan batch is read in order.  A location label ((414) GLN + (254) code, or a
plain location code) sets where the following scans happen; a plain scan that is
a work order number (a traveler) sets the order the following issues go to.  An
action scan naming an item (GTIN) calls, under the scanning device's site:

=========  ==================================================================
action     service (with lot (10), expiry (17), serial (21), quantity (30/37))
=========  ==================================================================
receive    ``inventory.services.stock_receive`` into the location
issue      ``stock_issue`` from the location, to the traveler's work order
move       ``stock_transfer`` from the location to ``to_location``
count      ``cycle_count_record`` on the location's open count (opened if none)
ship       ``stock_ship`` from the location against ``reference``
=========  ==================================================================

Each effect runs in a savepoint: a business rule refusing it (no stock, lot on
hold, no location) is recorded on the upload, like a refused tag move; other
actions (``inspect``, ``put_away``...) are sightings only.  Devices decide no
business rule themselves: the services do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from devices.parsers import Scan
from inventory import services as inventory_services
from inventory.models import CycleCount, Item, Lot
from tracker.errors import DomainError
from tracker.models import Location
from wip.models import WorkOrder

MAX_ERRORS_KEPT = 50
ACTIONS = {
    "receive": "receive",
    "issue": "issue",
    "issue_to_work_order": "issue",
    "move": "move",
    "transfer": "move",
    "count": "count",
    "ship": "ship",
}


class ScanRefused(DomainError):
    status = 409

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


@dataclass(slots=True)
class _State:
    site_id: int
    location: Location | None = None
    work_order: WorkOrder | None = None
    done: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _location(state: _State, code: str | None, *, gln: str | None = None, ext: str | None = None) -> Location | None:
    real = Location.objects.filter(site_id=state.site_id, is_virtual=False)
    if code:
        return real.filter(code=code).order_by("pk").first()
    if gln and ext and ext != "0":
        holders = Location.objects.filter(gln=gln).values("site_id")
        return real.filter(code=ext).filter(Q(site__gln=gln) | Q(site_id__in=holders)).order_by("pk").first()
    if gln:
        return real.filter(gln=gln).order_by("pk").first()
    return None


def _where(state: _State, scan: Scan) -> Location:
    if scan.location:
        location = _location(state, scan.location)
        if location is None:
            raise ScanRefused("unknown_location", f"No location {scan.location!r} at this site.")
        return location
    if state.location is None:
        raise ScanRefused("location_required", "Scan a location label (or send 'location') before this scan.")
    return state.location


def _quantity(scan: Scan) -> Decimal:
    if scan.quantity is not None:
        return scan.quantity
    if scan.typed_quantity is not None:
        return scan.typed_quantity
    if scan.serial:
        return Decimal(1)
    raise ScanRefused("quantity_required", "The scan carries no quantity ((30)/(37) or 'quantity').")


def _lot(item: Item, code: str | None) -> Lot | None:
    if not code:
        return None
    lot = Lot.objects.filter(item=item, code=code).first()
    if lot is None:
        raise ScanRefused("unknown_lot", f"No lot {code} of {item.sku}.")
    return lot


def _act(action: str, scan: Scan, state: _State, reference: str) -> None:
    item = Item.objects.filter(gtin=scan.gtin).first()
    if item is None:
        raise ScanRefused("unknown_item", f"No item with GTIN {scan.gtin}.")
    location = _where(state, scan)
    quantity = _quantity(scan)
    serials = [scan.serial] if scan.serial else None
    at = scan.scanned_at
    if action == "receive":
        inventory_services.stock_receive(
            item=item,
            quantity=quantity,
            location=location,
            lot_code=scan.lot,
            serials=serials,
            expiry_date=scan.expiry,
            reference=scan.reference or "",
            occurred_at=at,
        )
    elif action == "issue":
        order = state.work_order
        inventory_services.stock_issue(
            item=item,
            quantity=quantity,
            location=location,
            lot=_lot(item, scan.lot),
            serials=serials,
            reference=order.number if order is not None else (scan.reference or reference),
            reference_type="work_order",
            occurred_at=at,
        )
    elif action == "move":
        destination = _location(state, scan.to_location) if scan.to_location else None
        if destination is None:
            raise ScanRefused("destination_required", "A move needs 'to_location', a location code of this site.")
        inventory_services.stock_transfer(
            item=item,
            quantity=quantity,
            source=location,
            destination=destination,
            lot=_lot(item, scan.lot),
            serials=serials,
            reference=scan.reference or reference,
            occurred_at=at,
        )
    elif action == "ship":
        inventory_services.stock_ship(
            item=item,
            quantity=quantity,
            location=location,
            lot=_lot(item, scan.lot),
            serials=serials,
            reference=scan.reference or reference,
            occurred_at=at,
        )
    elif action == "count":
        count = CycleCount.objects.filter(
            site_id=state.site_id, location=location, status=CycleCount.Status.OPEN
        ).first() or inventory_services.cycle_count_create(location=location, reference=reference)
        inventory_services.cycle_count_record(
            count=count, item=item, location=location, counted=quantity, lot=_lot(item, scan.lot)
        )


def apply_scans(*, scans: list[Scan], site_id: int, reference: str) -> dict[str, Any]:
    """Carry out the action scans of one upload; returns counters for the upload's result."""
    state = _State(site_id=site_id)
    for scan in sorted(scans, key=lambda s: (s.scanned_at, s.seq or 0)):
        names_location = scan.gln is not None and scan.gtin is None and scan.sscc is None
        if names_location:
            state.location = _location(state, None, gln=scan.gln, ext=scan.location_ext) or state.location
        elif not scan.elements and scan.raw:
            text = scan.raw.strip()
            text = text[3:] if text.startswith("]") else text
            order = WorkOrder.objects.filter(site_id=site_id, number=text).first()
            if order is not None:
                state.work_order = order
                state.done["work_orders_found"] = state.done.get("work_orders_found", 0) + 1
            elif (place := _location(state, text)) is not None:
                state.location = place
        action = ACTIONS.get((scan.action or "").strip().lower())
        if action is None or scan.gtin is None:
            continue
        try:
            with transaction.atomic():
                _act(action, scan, state, reference)
        except DomainError as exc:
            state.done["scan_errors"] = state.done.get("scan_errors", 0) + 1
            if len(state.errors) < MAX_ERRORS_KEPT:
                state.errors.append(
                    {"seq": scan.seq, "action": action, "code": exc.code, "detail": str(exc.detail)[:300]}
                )
        else:
            key = f"scan_{action}s"
            state.done[key] = state.done.get(key, 0) + 1
    counters: dict[str, Any] = dict(state.done)
    if state.errors:
        counters["scan_error_details"] = state.errors
    return counters
