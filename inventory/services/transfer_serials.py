"""The units of a serial-tracked transfer order line: named at dispatch, named again as they
arrive, and, for those that never do, recorded as missing when the order closes.

``TransferLine.serials`` lists the line's units from dispatch on, each with its state:

* ``in_transit``: the unit is at the source site's in-transit location (status in transit);
* ``received``: it arrived and is in stock where the destination received it;
* ``missing``: the order closed without it: written off from in-transit to the source site's
  adjustment location (status missing, audited), where it stays until someone finds it.

A unit in transit is only ever changed by its transfer order's services, which hold the
order's row lock: no other service takes a unit that is not in stock. Receipt and close
therefore read their units without a row lock; dispatch, whose units are in stock and
wanted by every other service, locks them (after the levels, as every posting does).

A tag read of a travelling unit anywhere but a dock of its destination site raises an
``IN_TRANSIT_SIGHTED_ALERT`` (``transfer_reads``); the receipt or the close that ends the
unit's journey clears it (``clear_in_transit_sightings``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from inventory import errors
from inventory.models import Item, SerialUnit, TransferLine
from inventory.services.checks import _check_serial_count, _serial_codes
from tracker.models import Alert, Location
from tracker.services import alert_clear

IN_TRANSIT, RECEIVED, MISSING = "in_transit", "received", "missing"
IN_TRANSIT_SIGHTED_ALERT = "serial.in_transit_sighted"


def serial_subject(sku: str, serial: str) -> str:
    """The alert subject naming one unit (the same for every alert about a unit)."""
    return f"serial:{sku}/{serial}"


def clear_in_transit_sightings(line: TransferLine, codes: Iterable[str], *, at: dt.datetime | None) -> None:
    """Clear the open in-transit sighting alerts of ``line``'s units ``codes``, at any site:
    the unit is no longer travelling (received, or written off missing). One query when none
    is open, which is the usual case."""
    subjects = [serial_subject(line.item.sku, code) for code in codes]
    if not subjects:
        return
    open_alerts = (
        Alert.objects.filter(kind=IN_TRANSIT_SIGHTED_ALERT, subject__in=subjects, cleared_at__isnull=True)
        .values_list("site_id", "subject")
        .order_by("site_id", "subject")
    )
    for site_id, subject in list(open_alerts):
        alert_clear(site=site_id, kind=IN_TRANSIT_SIGHTED_ALERT, subject=subject, at=at)


def serials_in(line: TransferLine, state: str) -> list[str]:
    """The line's serials in ``state``, in dispatch order."""
    return [entry["serial"] for entry in line.serials if entry.get("state") == state]


def set_state(line: TransferLine, codes: Iterable[str], state: str) -> None:
    """Record ``state`` for ``codes`` on the line (in memory; the caller saves ``serials``)."""
    wanted = set(codes)
    line.serials = [{**entry, "state": state} if entry["serial"] in wanted else entry for entry in line.serials]


def units_of(item: Item, codes: Sequence[str], *, lock: bool = False) -> dict[str, SerialUnit]:
    query = SerialUnit.objects.filter(item=item, serial__in=codes).order_by("pk")
    if lock:
        query = query.select_for_update(of=("self",))
    return {unit.serial: unit for unit in query}


def _codes(serials: Sequence[Any] | None, taken: set[tuple[int, str]], item: Item) -> list[str]:
    codes = _serial_codes(serials)
    if len(set(codes)) != len(codes) or any((item.pk, code) in taken for code in codes):
        raise errors.SerialDuplicate("A serial is listed twice.", field="serials")
    return codes


def dispatch_codes(line: TransferLine, serials: Sequence[Any] | None, *, taken: set[tuple[int, str]]) -> list[str]:
    """The serials named for dispatching ``line``: as many as its quantity, none twice on the
    order (``taken``: (item id, serial) already named on other lines, updated here)."""
    _check_serial_count(line.item, line.quantity, serials)
    codes = _codes(serials, taken, line.item)
    taken.update((line.item_id, code) for code in codes)
    return codes


def check_dispatchable(
    line: TransferLine, codes: Sequence[str], units: dict[str, SerialUnit], *, source: Location
) -> list[SerialUnit]:
    """The units of ``codes``, each in stock at ``source`` (of the line's lot, if it names one);
    a unit already in transit is named as such."""
    result = []
    for code in codes:
        unit = units.get(code)
        if unit is None:
            raise errors.UnknownObject(f"No serial {code} of {line.item.sku}.", field="serials")
        if unit.status == SerialUnit.Status.IN_TRANSIT:
            raise errors.SerialNotAvailable(f"Serial {code} is already in transit.", field="serials")
        if unit.location_id != source.pk or unit.status != SerialUnit.Status.IN_STOCK:
            raise errors.SerialNotAvailable(f"Serial {code} is not in stock at {source.code}.", field="serials")
        if line.lot_id is not None and unit.lot_id != line.lot_id:
            raise errors.SerialNotAvailable(f"Serial {code} is not of lot {line.lot}.", field="serials")
        result.append(unit)
    return result


def arriving_units(
    line: TransferLine, serials: Sequence[Any] | None, *, transit: Location, taken: set[tuple[int, str]]
) -> list[SerialUnit]:
    """The units of the serials named as arrived on ``line``: each still travelling on it."""
    if not serials:
        raise errors.SerialRequired(
            f"{line.item.sku} is serial-tracked: list the serials that arrived.", field="serials"
        )
    codes = _codes(serials, taken, line.item)
    travelling = set(serials_in(line, IN_TRANSIT))
    for code in codes:
        if code not in travelling:
            known = {entry["serial"]: entry.get("state") for entry in line.serials}
            why = f"was {known[code].replace('_', ' ')}" if code in known else "is not on this line"
            raise errors.SerialNotAvailable(f"Serial {code} {why}: it is not travelling.", field="serials")
    units = units_of(line.item, codes)
    for code in codes:
        unit = units.get(code)
        if unit is None or unit.status != SerialUnit.Status.IN_TRANSIT or unit.location_id != transit.pk:
            raise errors.SerialNotAvailable(f"Serial {code} is not in transit.", field="serials")
    taken.update((line.item_id, code) for code in codes)
    return [units[code] for code in codes]
