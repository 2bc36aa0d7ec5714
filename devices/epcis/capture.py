"""EPCIS 2.0 capture: a partner's document into the ledger and WIP.

``epcis_capture`` validates the document against the EPCIS 2.0 JSON Schema
(``devices.parsers.epcis2``), then applies its events in document order
through the same services the device pipeline calls, all in one transaction
(the binding's default ``GS1-Capture-Error-Behaviour: rollback``): one event
refused refuses the document and nothing is written. The problem names the
event (index, type, eventID) and the field.

Idempotent per ``eventID``: every event is recorded as an ``EpcisEvent``
(unique ``event_id``) before its effects, so an event seen before, in an earlier
document or earlier in the same one, is skipped and counted as a duplicate.
An event without ``eventID`` gets one: the SHA-256 of its canonical JSON
(``ni:///sha-256;...?ver=shopfloor``, not the CBV 2.0 canonical hash).

Where: ``bizLocation`` when it names a real location, else ``readPoint`` (as a
reader's read point moves a tag to its zone). An SGLN resolves to the location
with that GLN (extension ``0``), or to the location whose code is the extension
inside the site (or location) holding the GLN; a GLN only a site holds is the
site as a whole; a device ``ReadPoint.reported_as`` equal to the URI names its
zone. Identifiers: SGTIN / LGTIN / SGTIN pattern URNs, GS1 Digital Link URIs
and Shopfloor's private ``urn:shopfloor:`` forms (``devices.epcis.mapping``).

Effects (the full table is in ``mapping.py`` vocabularies and the README of the
tests): ObjectEvent ADD -> ``stock_receive`` (``stock_produce`` for
commissioning); OBSERVE receiving -> receive objects never seen, move known
ones; OBSERVE shipping -> ``stock_ship`` from where each object is; DELETE or
decommissioning/destroying -> ``stock_scrap``; any other OBSERVE with a real
location -> ``stock_transfer`` of objects in stock elsewhere, and a work
order's traveler tag at a workstation -> ``operation_arrive``.
AggregationEvent ADD/OBSERVE -> ``Containment`` rows (parent code, child EPC
or class quantity), then the bizStep applied to the children like an
ObjectEvent; DELETE closes the rows; a container EPC in a later event stands
for its open contents. TransformationEvent: inputs -> ``stock_issue``, outputs
-> ``stock_produce`` with the issues (of this event and of earlier events with
the same ``transformationID``) as genealogy.

Unknown things: an OBSERVE at a GLN Shopfloor does not know, or of EPCs it
does not know, is recorded with outcome ``unknown`` and no effect (a
partner's own observations are history, not errors). Anything else naming an
unknown object or place is refused (400 ``unknown_epc`` / ``unknown_location``).
A place or object of a site the caller may not use is refused the same way,
whatever the action: nothing of another site is touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from devices.epcis import mapping
from devices.epcis.mapping import ObjectRef, bare, parse_location, parse_object
from devices.epcis.models import Containment, EpcisCapture, EpcisEvent, EpcisOutcome
from devices.models import ReadPoint, TagAssignment
from devices.parsers import epcis2
from devices.parsers._common import iso_time
from devices.parsers.base import ParseError
from devices.pipeline.effects import stations_for_zones
from inventory import errors as inv_errors
from inventory import services as stock
from inventory.models import Item, Lot, SerialUnit, StockMove
from tracker.errors import DomainError, ValidationFailed
from tracker.models import Location, Site
from tracker.scoping import granted_site_ids
from wip import services as wip_services

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


class _Where:
    """A resolved readPoint / bizLocation: a location, the site as a whole, or foreign."""

    __slots__ = ("location", "site_id", "uri")

    def __init__(self, uri: str, location: Location | None = None, site_id: int | None = None) -> None:
        self.uri, self.location, self.site_id = uri, location, site_id

    @property
    def foreign(self) -> bool:
        return self.site_id is None


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


def _event_id(event: dict[str, Any]) -> str:
    if event.get("eventID"):
        return str(event["eventID"])[:255]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"ni:///sha-256;{hashlib.sha256(canonical.encode()).hexdigest()}?ver=shopfloor"


class _Resolver:
    """Looks up places and objects for one capture, caching per URI, scoped to ``allowed`` sites."""

    def __init__(self, *, allowed: set[int]) -> None:
        self.allowed = allowed
        self._where: dict[str, _Where] = {}
        self._items: dict[tuple[str, str], Item | None] = {}
        self._serials: dict[tuple[int, str], SerialUnit | None] = {}
        self._lots: dict[tuple[int, str], Lot | None] = {}

    # -- places
    def where(self, uri: str, *, field_name: str) -> _Where:
        if uri not in self._where:
            self._where[uri] = self._resolve_where(uri, field_name)
        return self._where[uri]

    def _resolve_where(self, uri: str, field_name: str) -> _Where:
        read_point = (
            ReadPoint.objects.filter(reported_as=uri, active=True).select_related("location").order_by("pk").first()
        )
        if read_point is not None:
            return self._allowed_location(read_point.location, uri, field_name)
        parsed = parse_location(uri)
        if parsed is None:
            return _Where(uri)
        kind, key, ext = parsed
        if kind == "private":
            location = Location.objects.filter(site__code=key, code=ext).select_related("site").first()
            if location is None:
                site = Site.objects.filter(code=key).first()
                if site is None:
                    return _Where(uri)
                self._check_site(site.pk, uri, field_name)
                return _Where(uri, site_id=site.pk)
            return self._allowed_location(location, uri, field_name)
        gln = key
        holders = list(Location.objects.filter(gln=gln).order_by("pk"))
        sites = list(Site.objects.filter(gln=gln).order_by("pk"))
        site_ids = {loc.site_id for loc in holders} | {s.pk for s in sites}
        if not site_ids:
            return _Where(uri)
        if not site_ids & self.allowed:
            raise UnknownLocation(f"No location of yours has the GLN of {uri}.", field=field_name)
        site_ids &= self.allowed
        if ext == "0":
            holder = next((loc for loc in holders if loc.site_id in site_ids), None)
            if holder is not None:
                return self._allowed_location(holder, uri, field_name)
            return _Where(uri, site_id=min(site_ids))
        location = Location.objects.filter(site_id__in=site_ids, code=ext).order_by("pk").first()
        if location is not None:
            return self._allowed_location(location, uri, field_name)
        holder = next((loc for loc in holders if loc.site_id in site_ids), None)
        return _Where(uri, location=None, site_id=holder.site_id if holder else min(site_ids))

    def _check_site(self, site_id: int, uri: str, field_name: str) -> None:
        if site_id not in self.allowed:
            raise UnknownLocation(f"No location of yours is {uri}.", field=field_name)

    def _allowed_location(self, location: Location, uri: str, field_name: str) -> _Where:
        self._check_site(location.site_id, uri, field_name)
        return _Where(uri, location=location, site_id=location.site_id)

    # -- objects
    def item(self, ref: ObjectRef) -> Item | None:
        key = ref.item_key
        if key not in self._items:
            lookup = {"gtin": key[1]} if key[0] == "gtin" else {"sku": key[1]}
            self._items[key] = Item.objects.filter(**lookup).first()
        return self._items[key]

    def serial(self, item: Item, serial: str) -> SerialUnit | None:
        key = (item.pk, serial)
        if self._serials.get(key) is None:  # not cached, or not existing yet (an earlier event may make it)
            unit = SerialUnit.objects.select_related("item", "lot", "location").filter(item=item, serial=serial).first()
            self._serials[key] = unit
        unit = self._serials[key]
        if unit is not None:
            unit.refresh_from_db(fields=["location", "status"])  # an earlier event may have moved it
        return unit

    def forget_serial(self, item: Item, serial: str) -> None:
        self._serials.pop((item.pk, serial), None)

    def lot(self, item: Item, code: str) -> Lot | None:
        key = (item.pk, code)
        if self._lots.get(key) is None:
            self._lots[key] = Lot.objects.filter(item=item, code=code).first()
        return self._lots[key]


# --------------------------------------------------------------------------- the service


@transaction.atomic
def epcis_capture(*, body: bytes, user: Any) -> CaptureResult:
    """Validate and apply one EPCIS 2.0 document for ``user`` (see the module docstring).

    Guarantees: all or nothing (one transaction, not durable, so the API's
    Idempotency-Key record can share it); each eventID takes effect once;
    nothing outside the user's (or API key's) sites is read into or written.
    """
    try:
        parsed = epcis2.parse(body)
    except ParseError as exc:
        raise EpcisInvalid(str(exc), field=_field_of(str(exc))) from None
    events = parsed.epcis_events
    if len(events) > MAX_EVENTS:
        raise EpcisInvalid(f"At most {MAX_EVENTS} events per document.", field="epcisBody.eventList")
    document = json.loads(body)
    resolver = _Resolver(allowed=set(granted_site_ids(user)))
    capture = EpcisCapture.objects.create(
        created_by=user if getattr(user, "pk", None) else None,
        document_id=str(document.get("id", ""))[:255] if isinstance(document, dict) else "",
        event_count=len(events),
    )
    counts: dict[str, int] = defaultdict(int)
    counts["events"] = len(events)
    first_site: int | None = None
    for index, event in enumerate(events):
        state = _EventState(index=index, event=event, at=iso_time(event["eventTime"], "eventTime"))
        event_id = _event_id(event)
        try:
            with transaction.atomic():
                record = EpcisEvent.objects.create(
                    event_id=event_id,
                    event_type=event.get("type", ""),
                    event_time=state.at,
                    capture=capture,
                    biz_step=bare(event.get("bizStep"))[:255],
                    outcome=EpcisOutcome.RECORDED,
                    body=event,
                    transformation_id=str(event.get("transformationID", ""))[:255],
                )
        except IntegrityError:
            counts["duplicate"] += 1
            continue
        try:
            HANDLERS[event["type"]](state, resolver, user)
        except DomainError as exc:
            raise EventRefused(exc, index=index, event=event, field_hint=_FIELD_HINTS.get(event["type"])) from None
        effects = dict(state.effects)
        if state.moves:
            effects["move_ids"] = [m.pk for m in state.moves]
        if state.unknown and not state.moves and not any(k != "unknown_epcs" for k in state.effects):
            outcome = EpcisOutcome.UNKNOWN
        elif state.moves or set(state.effects) - {"unknown_epcs", "already_booked"}:
            outcome = EpcisOutcome.APPLIED
        else:
            outcome = EpcisOutcome.RECORDED
        EpcisEvent.objects.filter(pk=record.pk).update(outcome=outcome, effects=effects, site_id=state.site_id)
        counts[outcome] += 1
        counts["moves"] += len(state.moves)
        for name in ("arrivals", "containments"):
            counts[name] += state.effects.get(name, 0)
        first_site = first_site or state.site_id
    for name in ("applied", "recorded", "unknown", "duplicate", "moves", "arrivals", "containments"):
        counts[name] += 0  # always present in the answer
    EpcisCapture.objects.filter(pk=capture.pk).update(counts=dict(counts), site_id=first_site)
    capture.counts, capture.site_id = dict(counts), first_site
    return CaptureResult(capture=capture, counts=dict(counts))


def _field_of(message: str) -> str | None:
    # "event [3] (ObjectEvent) field action: ..." -> "epcisBody.eventList[3].action"
    if message.startswith("event [") and " field " in message:
        index = message[7 : message.index("]")]
        name = message.split(" field ", 1)[1].split(":", 1)[0]
        return f"epcisBody.eventList[{index}].{name}"
    if message.startswith("document field "):
        return message[len("document field ") :].split(":", 1)[0]
    return None


_FIELD_HINTS = {
    "ObjectEvent": "epcList",
    "AggregationEvent": "childEPCs",
    "TransformationEvent": "inputEPCList",
    "AssociationEvent": "childEPCs",
    "TransactionEvent": "epcList",
}


# --------------------------------------------------------------------------- helpers


def _locate(state: _EventState, resolver: _Resolver) -> tuple[Location | None, _Where | None]:
    """(the real location the objects are at after the event, the best resolved place)."""
    event = state.event
    places: list[_Where] = []
    for key in ("bizLocation", "readPoint"):
        if isinstance(event.get(key), dict) and event[key].get("id"):
            places.append(resolver.where(event[key]["id"], field_name=f"{key}.id"))
    for place in places:
        if place.site_id is not None:
            state.site_id = state.site_id or place.site_id
    for place in places:
        if place.location is not None and not place.location.is_virtual:
            return place.location, place
    located = next((p for p in places if not p.foreign), None)
    return None, located or (places[0] if places else None)


def _require_location(location: Location | None, place: _Where | None, what: str) -> Location:
    if location is None:
        uri = place.uri if place else "(none)"
        raise UnknownLocation(
            f"{what} needs a location of yours as bizLocation or readPoint; {uri} is not one.",
            field="bizLocation" if place is None else "bizLocation.id",
        )
    return location


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


@dataclass
class _Objects:
    """An event's "what", resolved: serial units (known or new), class quantities, containers, unknowns."""

    units: list[SerialUnit] = field(default_factory=list)
    new_serials: dict[int, tuple[Item, list[str]]] = field(default_factory=dict)
    quantities: list[tuple[Item, Lot | None, str | None, Decimal | None, str]] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _resolve_objects(
    epcs: list[str],
    quantities: list[dict[str, Any]],
    *,
    resolver: _Resolver,
    state: _EventState,
    list_field: str,
    quantity_field: str,
    allow_unknown: bool,
    expand_containers: bool = True,
) -> _Objects:
    found = _Objects()
    for position, uri in enumerate(epcs):
        ref = parse_object(uri)
        if ref.kind == "serial":
            item = resolver.item(ref)
            if item is None:
                _unknown(found, uri, allow_unknown, f"No item has the GTIN of {uri}.", f"{list_field}[{position}]")
                continue
            unit = resolver.serial(item, ref.value)
            if unit is None:
                found.new_serials.setdefault(item.pk, (item, []))[1].append(ref.value)
                continue
            _check_unit_site(unit, resolver, uri, f"{list_field}[{position}]")
            state.site_id = state.site_id or unit.location.site_id
            found.units.append(unit)
        elif ref.kind == "container":
            found.containers.append(ref.code)
            if expand_containers:
                _expand_container(ref.code, found, resolver, state)
        elif ref.kind in ("asset", "other"):
            found.others.append(uri)
        else:
            _unknown(
                found,
                uri,
                allow_unknown,
                f"{uri} is a class, not an instance: list it in a quantity list.",
                f"{list_field}[{position}]",
            )
    for position, entry in enumerate(quantities):
        uri = entry["epcClass"]
        ref = parse_object(uri)
        name = f"{quantity_field}[{position}]"
        if ref.kind not in ("lot", "item"):
            _unknown(found, uri, allow_unknown, f"{uri} is not a GTIN class.", f"{name}.epcClass")
            continue
        item = resolver.item(ref)
        if item is None:
            _unknown(found, uri, allow_unknown, f"No item has the GTIN of {uri}.", f"{name}.epcClass")
            continue
        qty = None
        if entry.get("quantity") is not None:
            qty = _quantity(entry["quantity"], item=item, uom=entry.get("uom"), field_name=f"{name}.quantity")
        lot_code = ref.value if ref.kind == "lot" else None
        lot = resolver.lot(item, lot_code) if lot_code else None
        found.quantities.append((item, lot, lot_code, qty, name))
    return found


def _check_unit_site(unit: SerialUnit, resolver: _Resolver, uri: str, field_name: str) -> None:
    if unit.location.site_id not in resolver.allowed:
        raise UnknownEpc(f"No object of yours is {uri}.", field=field_name)


def _unknown(found: _Objects, uri: str, allow: bool, message: str, field_name: str) -> None:
    if not allow:
        raise UnknownEpc(message, field=field_name)
    found.unknown.append(uri)


def _expand_container(code: str, found: _Objects, resolver: _Resolver, state: _EventState) -> None:
    rows = (
        Containment.objects.filter(parent=code, unpacked_at__isnull=True, site_id__in=resolver.allowed)
        .select_related("serial__item", "serial__lot", "serial__location", "item", "lot")
        .order_by("pk")
    )
    for row in rows:
        state.site_id = state.site_id or row.site_id
        if row.serial_id is not None:
            row.serial.refresh_from_db(fields=["location", "status"])
            found.units.append(row.serial)
        elif row.item_id is not None:
            found.quantities.append((row.item, row.lot, row.lot.code if row.lot else None, row.quantity, "contents"))


def _in_stock(unit: SerialUnit) -> bool:
    return unit.status == SerialUnit.Status.IN_STOCK and not unit.location.is_virtual


def _inside(location: Location, zone: Location) -> bool:
    return location.pk == zone.pk or location.path.startswith(zone.path)


def _take(
    item: Item,
    lot: Lot | None,
    qty: Decimal | None,
    *,
    site_id: int | None,
    near: Location | None,
    resolver: _Resolver,
    field_name: str,
    reference: tuple[str, str] | None = None,
    respect_reservations: bool = True,
    allow_blocked: bool = False,
) -> list[stock.Pick]:
    """Where to take ``qty`` of an item (all of it when None) from: ``stock.stock_pick``'s rule
    (locked, FEFO over usable lots, others' reservations kept), inside ``near`` first."""
    if site_id is None:
        raise UnknownLocation(f"Where {item.sku} is taken from is not a site of yours.", field="bizLocation")
    what = f"{item.sku}{f' lot {lot.code}' if lot else ''}"
    if site_id not in resolver.allowed:
        raise inv_errors.InsufficientStock(f"Only 0 {item.unit} of {what} in stock here.", field=field_name)
    picking = stock.stock_pick(
        item=item,
        site_id=site_id,
        quantity=qty,
        near=near,
        lot=lot,
        reference=reference,
        respect_reservations=respect_reservations,
        allow_blocked=allow_blocked,
        field=field_name,
    )
    if not picking.picks:
        raise inv_errors.InsufficientStock(f"Only 0 {item.unit} of {what} in stock here.", field=field_name)
    return picking.picks


def _picked(picks: list[stock.Pick]) -> list[tuple[Location, Lot | None, Decimal]]:
    return [(p.location, p.lot, p.quantity) for p in picks]


# --------------------------------------------------------------------------- object effects


def _receive_new(
    objects: _Objects,
    *,
    state: _EventState,
    location: Location,
    reference: tuple[str, str],
    supplier: str,
    produce: bool,
) -> None:
    lot_code, expiry = _ilmd(state.event)
    for item, serials in objects.new_serials.values():
        lot = lot_code if (item.tracking != Item.Tracking.NONE and lot_code) else None
        if produce:
            moves = stock.stock_produce(
                item=item,
                quantity=Decimal(len(serials)),
                location=location,
                serials=serials,
                lot_code=lot,
                expiry_date=expiry,
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        else:
            moves = stock.stock_receive(
                item=item,
                quantity=Decimal(len(serials)),
                location=location,
                serials=serials,
                lot_code=lot,
                expiry_date=expiry,
                reference=reference[0],
                reference_type=reference[1],
                supplier=supplier,
                occurred_at=state.at,
            )
        state.moves.extend(moves)
        state.count("produced" if produce else "received", len(serials))
    for item, _lot, code, qty, name in objects.quantities:
        if qty is None:
            raise ValidationFailed(f"Say how much {item.sku} arrived.", field=f"{name}.quantity")
        code = code or (lot_code if item.is_lot_tracked else None)
        call = stock.stock_produce if produce else stock.stock_receive
        extra = {} if produce else {"supplier": supplier}
        moves = call(
            item=item,
            quantity=qty,
            location=location,
            lot_code=code,
            expiry_date=expiry,
            reference=reference[0],
            reference_type=reference[1],
            occurred_at=state.at,
            **extra,
        )
        state.moves.extend(moves)
        state.count("produced" if produce else "received")


def _move_units(
    units: list[SerialUnit], *, state: _EventState, destination: Location, reference: tuple[str, str]
) -> None:
    for unit in units:
        if not _in_stock(unit):
            raise inv_errors.SerialNotAvailable(
                f"Serial {unit.serial} of {unit.item.sku} is {unit.status}.", field="epcList"
            )
        if _inside(unit.location, destination):
            state.count("already_booked")
            continue
        moves = stock.stock_transfer(
            item=unit.item,
            quantity=Decimal(1),
            source=unit.location,
            destination=destination,
            serials=[unit],
            reference=reference[0],
            reference_type=reference[1],
            occurred_at=state.at,
        )
        unit.location = destination
        state.moves.extend(moves)
        state.count("transferred")


def _move_quantities(
    objects: _Objects, *, state: _EventState, destination: Location, resolver: _Resolver, reference: tuple[str, str]
) -> None:
    for item, lot, code, qty, name in objects.quantities:
        if code and lot is None:
            raise UnknownEpc(f"No lot {code} of {item.sku}.", field=f"{name}.epcClass")
        # Moving inside a site leaves what it has available as it was: reservations do not limit it.
        picks = [
            p
            for p in _take(
                item,
                lot,
                qty,
                site_id=destination.site_id,
                near=None,
                resolver=resolver,
                field_name=f"{name}.quantity",
                respect_reservations=False,
            )
            if not _inside(p.location, destination)
        ]
        if len({p.location.pk for p in picks}) > 1 and qty is None:
            raise DomainError(
                f"{item.sku} is stocked in several places; which one moved is unknown.",
                code="ambiguous_source",
                field=f"{name}.epcClass",
            )
        for pick in picks:
            state.moves.extend(
                stock.stock_transfer(
                    item=item,
                    quantity=pick.quantity,
                    source=pick.location,
                    destination=destination,
                    lot=pick.lot,
                    reference=reference[0],
                    reference_type=reference[1],
                    occurred_at=state.at,
                )
            )
            state.count("transferred")


def _outbound(
    objects: _Objects,
    *,
    state: _EventState,
    resolver: _Resolver,
    location: Location | None,
    place: _Where | None,
    kind: str,
    reference: tuple[str, str],
    partner: str,
) -> None:
    """Ship or scrap: each unit from where it is, quantities from the event's place."""
    for unit in objects.units:
        if not _in_stock(unit):
            state.count("already_booked")  # already shipped / consumed: the world agrees
            continue
        if kind == "ship":
            moves = stock.stock_ship(
                item=unit.item,
                quantity=Decimal(1),
                location=unit.location,
                serials=[unit],
                reference=reference[0],
                reference_type=reference[1],
                customer=partner,
                occurred_at=state.at,
            )
        else:
            moves = stock.stock_scrap(
                item=unit.item,
                quantity=Decimal(1),
                location=unit.location,
                serials=[unit],
                reason="EPCIS " + (bare(state.event.get("bizStep")) or "DELETE"),
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        state.moves.extend(moves)
        state.count("shipped" if kind == "ship" else "scrapped")
    site_id = location.site_id if location else (place.site_id if place else None)
    for item, lot, code, qty, name in objects.quantities:
        if code and lot is None:
            raise UnknownEpc(f"No lot {code} of {item.sku}.", field=f"{name}.epcClass")
        # Scrapping may take held or expired lots (that is how they leave stock) and ignores reservations.
        for source, pick_lot, take in _picked(
            _take(
                item,
                lot,
                qty,
                site_id=site_id or state.site_id,
                near=location,
                resolver=resolver,
                field_name=f"{name}.quantity",
                reference=reference,
                respect_reservations=kind == "ship",
                allow_blocked=kind != "ship",
            )
        ):
            if kind == "ship":
                moves = stock.stock_ship(
                    item=item,
                    quantity=take,
                    location=source,
                    lot=pick_lot,
                    reference=reference[0],
                    reference_type=reference[1],
                    customer=partner,
                    occurred_at=state.at,
                )
            else:
                moves = stock.stock_scrap(
                    item=item,
                    quantity=take,
                    location=source,
                    lot=pick_lot,
                    reason="EPCIS " + (bare(state.event.get("bizStep")) or "DELETE"),
                    reference=reference[0],
                    reference_type=reference[1],
                    occurred_at=state.at,
                )
            state.moves.extend(moves)
            state.count("shipped" if kind == "ship" else "scrapped")


def _arrivals(epcs: list[str], *, state: _EventState, location: Location | None, resolver: _Resolver) -> None:
    """A work order's traveler or tote tag observed at a workstation: it arrives there (as a reader read would)."""
    if location is None or not epcs:
        return
    assignments = list(
        TagAssignment.objects.current()
        .filter(tag__tag_id__in=epcs, tag__site_id=location.site_id, work_order__isnull=False)
        .select_related("work_order")
    )
    if not assignments:
        return
    station = stations_for_zones({location.pk}).get(location.pk)
    if station is None:
        return
    for assignment in assignments:
        result = wip_services.operation_arrive(
            workstation=station, work_order=assignment.work_order, occurred_at=state.at
        )
        state.count("arrivals" if result.changed else "arrivals_ignored")


# --------------------------------------------------------------------------- event handlers


def _apply_object_semantics(
    state: _EventState,
    resolver: _Resolver,
    *,
    action: str,
    epcs: list[str],
    quantities: list[dict[str, Any]],
    list_field: str,
    quantity_field: str,
) -> None:
    event = state.event
    step = bare(event.get("bizStep"))
    location, place = _locate(state, resolver)
    event_id = _event_id(event)
    observe = action == "OBSERVE"
    objects = _resolve_objects(
        epcs,
        quantities,
        resolver=resolver,
        state=state,
        list_field=list_field,
        quantity_field=quantity_field,
        allow_unknown=observe,
    )
    if objects.unknown:
        state.unknown = True
        state.count("unknown_epcs", len(objects.unknown))
    if action == "DELETE" or step in mapping.SCRAP_STEPS:
        if objects.new_serials and not observe:
            item, serials = next(iter(objects.new_serials.values()))
            raise UnknownEpc(f"No serial {serials[0]} of {item.sku}.", field=list_field)
        _outbound(
            objects,
            state=state,
            resolver=resolver,
            location=location,
            place=place,
            kind="scrap",
            reference=(event_id[:100], EPCIS_REF),
            partner="",
        )
        return
    if step in mapping.SHIP_STEPS:
        if objects.new_serials:
            if not observe:
                item, serials = next(iter(objects.new_serials.values()))
                raise UnknownEpc(f"No serial {serials[0]} of {item.sku} to ship.", field=list_field)
            state.unknown = True
            state.count("unknown_epcs", sum(len(s) for _, s in objects.new_serials.values()))
        if objects.quantities and location is None and (place is None or place.foreign):
            if not observe:
                _require_location(location, place, "Shipping quantities")
            state.unknown = True
            state.count("unknown_epcs", len(objects.quantities))
            objects.quantities = []
        _outbound(
            objects,
            state=state,
            resolver=resolver,
            location=location,
            place=place,
            kind="ship",
            reference=_references(event, purpose="ship", event_id=event_id),
            partner=_party(event, "destination"),
        )
        return
    receiving = action == "ADD" or step in mapping.RECEIVE_STEPS
    if receiving:
        if (objects.new_serials or objects.quantities) and location is None:
            if not observe or (place is not None and not place.foreign):
                _require_location(location, place, "Receiving")
            state.unknown = True
            state.count("unknown_epcs", sum(len(s) for _, s in objects.new_serials.values()) + len(objects.quantities))
            return
        reference = _references(event, purpose="receipt", event_id=event_id)
        produce = action == "ADD" and step in mapping.PRODUCE_STEPS
        if produce:
            reference = _references(event, purpose="production", event_id=event_id)
        if location is not None:
            _receive_new(
                objects,
                state=state,
                location=location,
                reference=reference,
                supplier=_party(event, "source"),
                produce=produce,
            )
            _move_units(objects.units, state=state, destination=location, reference=(event_id[:100], EPCIS_REF))
        return
    # Any other observation: objects in stock elsewhere move to the event's location.
    if objects.new_serials:
        state.unknown = True
        state.count("unknown_epcs", sum(len(s) for _, s in objects.new_serials.values()))
    if location is None:
        if not objects.units and not objects.quantities:
            state.unknown = state.unknown or bool(place is None or place.foreign)
        return
    _move_units(
        [u for u in objects.units if _in_stock(u)],
        state=state,
        destination=location,
        reference=(event_id[:100], EPCIS_REF),
    )
    if objects.quantities:
        _move_quantities(
            objects, state=state, destination=location, resolver=resolver, reference=(event_id[:100], EPCIS_REF)
        )
    _arrivals(epcs, state=state, location=location, resolver=resolver)


def _object_event(state: _EventState, resolver: _Resolver, user: Any) -> None:
    event = state.event
    _apply_object_semantics(
        state,
        resolver,
        action=event["action"],
        epcs=list(event.get("epcList", ())),
        quantities=list(event.get("quantityList", ())),
        list_field="epcList",
        quantity_field="quantityList",
    )


def _aggregation_event(state: _EventState, resolver: _Resolver, user: Any) -> None:
    event = state.event
    action = event["action"]
    parent = event.get("parentID")
    children = list(event.get("childEPCs", ()))
    child_quantities = list(event.get("childQuantityList", ()))
    if parent:
        parent_ref = parse_object(parent)
        parent = parent_ref.code
    if action == "DELETE":
        if not parent:
            raise ValidationFailed("Unpacking needs the parentID.", field="parentID")
        rows = Containment.objects.filter(parent=parent, unpacked_at__isnull=True, site_id__in=resolver.allowed)
        if children:
            rows = rows.filter(child__in=children)
        closed = rows.update(unpacked_at=state.at)
        state.count("unpacked", closed)
        return
    # ADD / OBSERVE: the bizStep applies to the children (an aggregation's ADD adds them to the
    # parent, it does not commission them: an observation of the children), then their containment.
    _apply_object_semantics(
        state,
        resolver,
        action="OBSERVE",
        epcs=children,
        quantities=child_quantities,
        list_field="childEPCs",
        quantity_field="childQuantityList",
    )
    if not parent:
        return
    site_id = state.site_id
    if site_id is None:
        if action == "ADD":
            raise UnknownLocation("Packing needs a place or objects of yours.", field="bizLocation")
        return
    objects = _resolve_objects(
        children,
        child_quantities,
        resolver=resolver,
        state=state,
        list_field="childEPCs",
        quantity_field="childQuantityList",
        allow_unknown=True,
        expand_containers=False,
    )
    open_children = set(
        Containment.objects.filter(site_id=site_id, parent=parent, unpacked_at__isnull=True).values_list(
            "child", flat=True
        )
    )
    rows = []
    by_serial = {(u.item.gtin, u.serial): u for u in objects.units}
    for uri in children:
        if uri in open_children:
            continue
        ref = parse_object(uri)
        unit = by_serial.get((ref.gtin, ref.value)) if ref.kind == "serial" else None
        if unit is None and ref.kind == "serial":
            item = resolver.item(ref)
            unit = resolver.serial(item, ref.value) if item else None
        rows.append(Containment(site_id=site_id, parent=parent, child=uri, serial=unit, packed_at=state.at))
    for entry, (item, lot, code, qty, _name) in zip(child_quantities, objects.quantities, strict=False):
        if entry["epcClass"] in open_children:
            continue
        lot = lot or (resolver.lot(item, code) if code else None)
        rows.append(
            Containment(
                site_id=site_id,
                parent=parent,
                child=entry["epcClass"],
                item=item,
                lot=lot,
                quantity=qty,
                packed_at=state.at,
            )
        )
    Containment.objects.bulk_create(rows)
    state.count("containments", len(rows))


def _transformation_event(state: _EventState, resolver: _Resolver, user: Any) -> None:
    event = state.event
    event_id = _event_id(event)
    location, place = _locate(state, resolver)
    reference = _references(event, purpose="production", event_id=event_id)
    inputs = _resolve_objects(
        list(event.get("inputEPCList", ())),
        list(event.get("inputQuantityList", ())),
        resolver=resolver,
        state=state,
        list_field="inputEPCList",
        quantity_field="inputQuantityList",
        allow_unknown=False,
    )
    if inputs.new_serials:
        item, serials = next(iter(inputs.new_serials.values()))
        raise UnknownEpc(f"No serial {serials[0]} of {item.sku} to consume.", field="inputEPCList")
    consumed: list[StockMove] = []
    for unit in inputs.units:
        if not _in_stock(unit):
            raise inv_errors.SerialNotAvailable(
                f"Serial {unit.serial} of {unit.item.sku} is {unit.status}.", field="inputEPCList"
            )
        consumed.extend(
            stock.stock_issue(
                item=unit.item,
                quantity=Decimal(1),
                location=unit.location,
                serials=[unit],
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        )
    site_id = location.site_id if location else (place.site_id if place else state.site_id)
    for item, lot, code, qty, name in inputs.quantities:
        if code and lot is None:
            raise UnknownEpc(f"No lot {code} of {item.sku}.", field=f"{name}.epcClass")
        if qty is None:
            raise ValidationFailed(f"Say how much {item.sku} was consumed.", field=f"{name}.quantity")
        for source, pick_lot, take in _picked(
            _take(
                item,
                lot,
                qty,
                site_id=site_id,
                near=location,
                resolver=resolver,
                field_name=f"{name}.quantity",
                reference=reference,
            )
        ):
            consumed.extend(
                stock.stock_issue(
                    item=item,
                    quantity=take,
                    location=source,
                    lot=pick_lot,
                    reference=reference[0],
                    reference_type=reference[1],
                    occurred_at=state.at,
                )
            )
    state.moves.extend(consumed)
    state.count("consumed", len(consumed))
    outputs = _resolve_objects(
        list(event.get("outputEPCList", ())),
        list(event.get("outputQuantityList", ())),
        resolver=resolver,
        state=state,
        list_field="outputEPCList",
        quantity_field="outputQuantityList",
        allow_unknown=False,
    )
    if outputs.units:
        unit = outputs.units[0]
        raise inv_errors.SerialDuplicate(
            f"Serial {unit.serial} of {unit.item.sku} already exists.", field="outputEPCList"
        )
    if not (outputs.new_serials or outputs.quantities):
        return
    target = _require_location(location, place, "Producing")
    tid = event.get("transformationID")
    earlier: list[StockMove] = []
    if tid:
        # The inputs of one transformation may come in earlier events with the same transformationID.
        ids = [
            i
            for effects in EpcisEvent.objects.filter(transformation_id=tid)
            .exclude(event_id=event_id)
            .values_list("effects", flat=True)
            for i in (effects or {}).get("move_ids", ())
        ]
        earlier = list(
            StockMove.objects.filter(pk__in=ids, kind=StockMove.Kind.ISSUE)
            .select_related("item", "lot", "serial")
            .order_by("pk")
        )
    lot_code, expiry = _ilmd(event)
    for item, serials in outputs.new_serials.values():
        state.moves.extend(
            stock.stock_produce(
                item=item,
                quantity=Decimal(len(serials)),
                location=target,
                serials=serials,
                lot_code=lot_code if item.tracking != Item.Tracking.NONE else None,
                expiry_date=expiry,
                consumed=earlier + consumed,
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        )
        state.count("produced", len(serials))
    for item, _lot, code, qty, name in outputs.quantities:
        if qty is None:
            raise ValidationFailed(f"Say how much {item.sku} was made.", field=f"{name}.quantity")
        state.moves.extend(
            stock.stock_produce(
                item=item,
                quantity=qty,
                location=target,
                lot_code=code or (lot_code if item.is_lot_tracked else None),
                expiry_date=expiry,
                consumed=earlier + consumed,
                reference=reference[0],
                reference_type=reference[1],
                occurred_at=state.at,
            )
        )
        state.count("produced")


def _recorded_only(state: _EventState, resolver: _Resolver, user: Any) -> None:
    """Association and transaction events: kept as history, no ledger effect."""
    _locate(state, resolver)


HANDLERS = {
    "ObjectEvent": _object_event,
    "AggregationEvent": _aggregation_event,
    "TransformationEvent": _transformation_event,
    "AssociationEvent": _recorded_only,
    "TransactionEvent": _recorded_only,
}
