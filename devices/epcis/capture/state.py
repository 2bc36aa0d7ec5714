"""One event's state while it is applied, the capture's errors, and what an event's fields say."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from devices.epcis import mapping
from devices.epcis.mapping import bare
from devices.epcis.models import EpcisCapture
from inventory.models import Item, StockMove
from tracker.errors import DomainError, ValidationFailed

MAX_EVENTS = 10_000


EPCIS_REF = StockMove.ReferenceType.EPCIS


class EpcisInvalid(ValidationFailed):
    code = "epcis_invalid"


class UnknownEpc(ValidationFailed):
    code = "unknown_epc"


class UnknownLocation(ValidationFailed):
    code = "unknown_location"


class EventRefused(DomainError):
    """A domain error of one event, re-raised naming the event: the document is refused."""

    def __init__(self, exc: DomainError, *, index: int, event: dict, field_hint: str | None) -> None:
        etype = event.get("type", "?")
        name = exc.field or field_hint or "(event)"
        detail = f"event [{index}] ({etype}) field {name}: {exc.detail}"
        super().__init__(
            detail,
            code=exc.code,
            field=f"epcisBody.eventList[{index}].{name}",
            event_index=index,
            event_id=event.get("eventID"),
            **exc.extra,
        )
        self.status = exc.status


@dataclass
class CaptureResult:
    capture: EpcisCapture
    counts: dict[str, int]


@dataclass
class _EventState:
    index: int
    event: dict[str, Any]
    at: dt.datetime
    effects: dict[str, Any] = field(default_factory=lambda: defaultdict(int))
    unknown: bool = False
    site_id: int | None = None
    moves: list[StockMove] = field(default_factory=list)

    def count(self, name: str, n: int = 1) -> None:
        self.effects[name] += n

    def unresolved(self, n: int = 1) -> None:
        """``n`` objects or places of the event Shopfloor cannot resolve (unknown, or of a site
        the caller may not use): recorded, never refused (``devices.epcis.unresolved`` keeps them)."""
        if n:
            self.unknown = True
            self.count("unknown_epcs", n)


def _event_id(event: dict[str, Any]) -> str:
    if event.get("eventID"):
        return str(event["eventID"])[:255]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"ni:///sha-256;{hashlib.sha256(canonical.encode()).hexdigest()}?ver=shopfloor"


def _quantity(value: Any, *, item: Item, uom: str | None, field_name: str) -> Decimal:
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{value!r} is not a quantity.", field=field_name) from exc
    if uom:
        unit = mapping.UOM_TO_UNIT.get(uom)
        if unit != item.unit:
            raise ValidationFailed(
                f"{item.sku} is kept in {item.unit}, not {uom}.", field=field_name, code="wrong_unit"
            )
    return qty


def _references(event: dict[str, Any], *, purpose: str, event_id: str) -> tuple[str, str]:
    """(reference, reference_type) for the moves of an event, from its business transactions."""
    wanted = {
        "receipt": (("po", "purchase_order"), ("desadv", "purchase_order")),
        "ship": ((mapping.BTT_SALES_ORDER, "sales_order"), ("po", "sales_order"), ("desadv", "sales_order")),
        "production": (("prodorder", "work_order"),),
    }.get(purpose, ())
    transactions = [(bare(t.get("type", "")), t["bizTransaction"]) for t in event.get("bizTransactionList", ())]
    for btt, reference_type in wanted:
        for kind, uri in transactions:
            if kind == btt:
                return mapping.transaction_reference(uri)[:100], reference_type
    if purpose == "production" and event.get("transformationID"):
        number = mapping.parse_work_order(event["transformationID"])
        if number:
            return number[:100], "work_order"
    return event_id[:100], EPCIS_REF


def _party(event: dict[str, Any], key: str) -> str:
    entries = event.get(f"{key}List", ())
    for entry in entries:
        if bare(entry.get("type", "")) in ("owning_party", "possessing_party"):
            return str(entry.get(key, ""))[:200]
    return ""


def _ilmd(event: dict[str, Any]) -> tuple[str | None, dt.date | None]:
    ilmd = event.get("ilmd") or {}
    lot = ilmd.get("cbvmda:lotNumber") or ilmd.get("lotNumber")
    expiry_raw = ilmd.get("cbvmda:itemExpirationDate") or ilmd.get("itemExpirationDate")
    expiry = None
    if isinstance(expiry_raw, str):
        try:
            expiry = dt.date.fromisoformat(expiry_raw[:10])
        except ValueError:
            raise ValidationFailed(f"{expiry_raw!r} is not a date.", field="ilmd.itemExpirationDate") from None
    return (str(lot)[:64] if lot else None), expiry
