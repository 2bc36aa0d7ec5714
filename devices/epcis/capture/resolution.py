"""Resolution: an event's places (readPoint / bizLocation) and objects (EPCs, classes, containers), scoped to the caller's sites, and where quantities are taken from (inventory's ``stock_pick``).

A place or object Shopfloor does not know, and one of a site the caller may not
use, resolve alike: to nothing (a foreign ``_Where``, an entry of
``_Objects.unknown``). Neither refuses the event: it is recorded, its unknown
identifiers kept unresolved (``devices.epcis.unresolved``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devices.epcis.capture.state import UnknownLocation, _EventState, _quantity
from devices.epcis.mapping import ObjectRef, parse_location, parse_object
from devices.epcis.models import Containment
from devices.models import ReadPoint
from inventory import errors as inv_errors
from inventory import services as stock
from inventory.models import Item, Lot, SerialUnit
from tracker.models import Location, Site


class _Where:
    """A resolved readPoint / bizLocation: a location, the site as a whole, or foreign."""

    __slots__ = ("location", "site_id", "uri")

    def __init__(self, uri: str, location: Location | None = None, site_id: int | None = None) -> None:
        self.uri, self.location, self.site_id = uri, location, site_id

    @property
    def foreign(self) -> bool:
        return self.site_id is None


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
            self._where[uri] = self._resolve_where(uri)
        return self._where[uri]

    def _resolve_where(self, uri: str) -> _Where:
        read_point = (
            ReadPoint.objects.filter(reported_as=uri, active=True, location__site_id__in=self.allowed)
            .select_related("location")
            .order_by("pk")
            .first()
        )
        if read_point is not None:
            return self._allowed_location(read_point.location, uri)
        parsed = parse_location(uri)
        if parsed is None:
            return _Where(uri)
        kind, key, ext = parsed
        if kind == "private":
            location = Location.objects.filter(site__code=key, code=ext, site_id__in=self.allowed).first()
            if location is None:
                site = Site.objects.filter(code=key, pk__in=self.allowed).first()
                return _Where(uri) if site is None else _Where(uri, site_id=site.pk)
            return self._allowed_location(location, uri)
        gln = key
        holders = list(Location.objects.filter(gln=gln).order_by("pk"))
        sites = list(Site.objects.filter(gln=gln).order_by("pk"))
        site_ids = {loc.site_id for loc in holders} | {s.pk for s in sites}
        if not site_ids:
            return _Where(uri)
        site_ids &= self.allowed
        if not site_ids:  # another site's GLN: exactly as unknown as a GLN no one has
            return _Where(uri)
        if ext == "0":
            holder = next((loc for loc in holders if loc.site_id in site_ids), None)
            if holder is not None:
                return self._allowed_location(holder, uri)
            return _Where(uri, site_id=min(site_ids))
        location = Location.objects.filter(site_id__in=site_ids, code=ext).order_by("pk").first()
        if location is not None:
            return self._allowed_location(location, uri)
        holder = next((loc for loc in holders if loc.site_id in site_ids), None)
        return _Where(uri, location=None, site_id=holder.site_id if holder else min(site_ids))

    def _allowed_location(self, location: Location, uri: str) -> _Where:
        if location.site_id not in self.allowed:
            return _Where(uri)
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
    expand_containers: bool = True,
) -> _Objects:
    """What ``epcs`` and ``quantities`` name. Unknown items, classes that are not GTIN
    classes, instances listed as classes and objects of other sites go to ``unknown``."""
    found = _Objects()
    for uri in epcs:
        ref = parse_object(uri)
        if ref.kind == "serial":
            item = resolver.item(ref)
            if item is None:
                found.unknown.append(uri)
                continue
            unit = resolver.serial(item, ref.value)
            if unit is None:
                found.new_serials.setdefault(item.pk, (item, []))[1].append(ref.value)
                continue
            if unit.location.site_id not in resolver.allowed:
                found.unknown.append(uri)
                continue
            state.site_id = state.site_id or unit.location.site_id
            found.units.append(unit)
        elif ref.kind == "container":
            found.containers.append(ref.code)
            if expand_containers:
                _expand_container(ref.code, found, resolver, state)
        elif ref.kind in ("asset", "other"):
            found.others.append(uri)
        else:  # a class listed as an instance
            found.unknown.append(uri)
    for position, entry in enumerate(quantities):
        uri = entry["epcClass"]
        ref = parse_object(uri)
        name = f"{quantity_field}[{position}]"
        item = resolver.item(ref) if ref.kind in ("lot", "item") else None
        if item is None:
            found.unknown.append(uri)
            continue
        qty = None
        if entry.get("quantity") is not None:
            qty = _quantity(entry["quantity"], item=item, uom=entry.get("uom"), field_name=f"{name}.quantity")
        lot_code = ref.value if ref.kind == "lot" else None
        lot = resolver.lot(item, lot_code) if lot_code else None
        found.quantities.append((item, lot, lot_code, qty, name))
    return found


def _expand_container(code: str, found: _Objects, resolver: _Resolver, state: _EventState) -> None:
    rows = (
        Containment.objects.filter(parent=code, unpacked_at__isnull=True, site_id__in=resolver.allowed)
        .select_related("serial__item", "serial__lot", "serial__location", "item", "lot")
        .order_by("pk")
    )
    for row in rows:
        state.site_id = state.site_id or row.site_id
        if row.serial is not None:
            row.serial.refresh_from_db(fields=["location", "status"])
            found.units.append(row.serial)
        elif row.item is not None:
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
