"""Identifiers a captured event named that Shopfloor does not know (yet).

EPCIS capture accepts every document that validates against GS1's schema: an
item, serial, lot, place or container it cannot resolve is no reason to refuse
the document. ``epcis_identifiers_record`` keeps each such identifier of an event
as an ``EpcisIdentifier`` (role, URI, canonical key from
``mapping.identifier_key``); ``epcis_identifiers_resolve`` marks them resolved once
their master data exists: an item by its GTIN (or SKU), a lot or a class of a
known item, a serial unit once it is in stock at a site of the sender's, a place
once a location of the sender's has its GLN (or the site's GLN and the
extension as its code, or a read point reports as it), a container or asset once
a tag or device of the sender's carries it. The periodic task
``devices.tasks.resolve_epcis_identifiers`` runs it every five minutes.

"Known" is always within the sites the sender may use: an identifier of another
site is exactly as unknown as one that does not exist (nothing in the answer or
the stored rows tells them apart). Parties, documents and other identifiers
(PGLN, GDTI, GSRN...) are not master data Shopfloor keeps: they are recorded in
the event body only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from devices.epcis.mapping import identifier_key, parse_location, parse_object
from devices.epcis.models import Containment, EpcisEvent, EpcisIdentifier
from devices.models import Device, ReadPoint, Tag
from inventory.models import Item, SerialUnit
from tracker.models import Location, Site
from tracker.scoping import granted_site_ids
from tracker.transactions import service_atomic

#: Kinds of identifier Shopfloor keeps master data for (the others are history only).
RESOLVABLE = frozenset({"serial", "lot", "item", "location", "container", "asset"})
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def event_identifiers(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, URI) of every object and place an event names, in document order."""
    found: list[tuple[str, str]] = []
    if isinstance(event.get("parentID"), str):
        found.append(("parentID", event["parentID"]))
    for name in _EPC_LISTS:
        found.extend((name, uri) for uri in event.get(name, ()) if isinstance(uri, str))
    for name in _QUANTITY_LISTS:
        found.extend(
            (name, entry["epcClass"])
            for entry in event.get(name, ())
            if isinstance(entry, dict) and isinstance(entry.get("epcClass"), str)
        )
    for name in ("readPoint", "bizLocation"):
        place = event.get(name)
        if isinstance(place, dict) and isinstance(place.get("id"), str):
            found.append((name, place["id"]))
    return found


class Known:
    """What Shopfloor knows of identifiers, within ``allowed`` sites, cached per key."""

    def __init__(self, allowed: Iterable[int]) -> None:
        self.allowed = set(allowed)
        self._cache: dict[tuple[str, str], tuple[bool, Item | None, Location | None]] = {}

    def lookup(self, uri: str) -> tuple[str, str, bool, Item | None, Location | None]:
        """(kind, key, known, the item it names, the location it names)."""
        kind, key = identifier_key(uri)
        if kind not in RESOLVABLE:
            return kind, key, True, None, None
        if (kind, key) not in self._cache:
            self._cache[(kind, key)] = self._resolve(kind, uri)
        known, item, location = self._cache[(kind, key)]
        return kind, key, known, item, location

    def _resolve(self, kind: str, uri: str) -> tuple[bool, Item | None, Location | None]:
        if kind in ("serial", "lot", "item"):
            ref = parse_object(uri)
            item = Item.objects.filter(**({"gtin": ref.gtin} if ref.gtin else {"sku": ref.sku})).first()
            if item is None or kind != "serial":
                return item is not None, item, None
            unit = SerialUnit.objects.filter(item=item, serial=ref.value, location__site_id__in=self.allowed)
            return unit.exists(), item, None
        if kind == "location":
            location = self.location(uri)
            return location is not None, None, location
        known = (
            Tag.objects.filter(tag_id=uri, site_id__in=self.allowed).exists()
            or Device.objects.filter(device_id=uri, site_id__in=self.allowed).exists()
            or Containment.objects.filter(parent=uri, site_id__in=self.allowed, unpacked_at__isnull=True).exists()
        )
        return known, None, None

    def location(self, uri: str) -> Location | None:
        """The location of an allowed site a readPoint / bizLocation URI names, if any."""
        allowed = self.allowed
        read_point = (
            ReadPoint.objects.filter(reported_as=uri, active=True, location__site_id__in=allowed)
            .select_related("location")
            .order_by("pk")
            .first()
        )
        if read_point is not None:
            return read_point.location
        parsed = parse_location(uri)
        if parsed is None:
            return None
        kind, key, ext = parsed
        places = Location.objects.filter(site_id__in=allowed).order_by("pk")
        if kind == "private":
            return places.filter(site__code=key, code=ext).first()
        if ext == "0":
            return places.filter(gln=key).first() or _site_location(key, allowed)
        holders = Site.objects.filter(gln=key, pk__in=allowed).values("pk")
        inside = Location.objects.filter(gln=key, site_id__in=allowed).values("site_id")
        return places.filter(Q(site_id__in=holders) | Q(site_id__in=inside), code=ext).first()


def _site_location(gln: str, allowed: set[int]) -> Location | None:
    """A site's GLN names the site as a whole: no one location, but a known place (its root)."""
    site = Site.objects.filter(gln=gln, pk__in=allowed).first()
    if site is None:
        return None
    return Location.objects.filter(site=site, parent__isnull=True).order_by("pk").first()


def epcis_identifiers_record(*, record: EpcisEvent, event: dict[str, Any], known: Known) -> int:
    """Keep every identifier of ``event`` that ``known`` does not know as an unresolved
    ``EpcisIdentifier`` of ``record`` (once per role and URI). Returns how many."""
    rows = []
    seen: set[tuple[str, str]] = set()
    for role, uri in event_identifiers(event):
        if (role, uri) in seen:
            continue
        seen.add((role, uri))
        kind, key, is_known, _item, _location = known.lookup(uri)
        if is_known:
            continue
        rows.append(
            EpcisIdentifier(event=record, site_id=record.site_id, role=role, uri=uri[:500], key=key[:255], kind=kind)
        )
    EpcisIdentifier.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@service_atomic
def epcis_identifiers_resolve(*, site_ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """Mark resolved the pending identifiers whose master data now exists, each within
    the sites its event's sender may use (the event's site, else the sender's grants).

    Guarantees: a row is resolved at most once, to the item or location it names; rows
    still unknown stay pending; safe to run again, and concurrently (each update is
    conditional on the row still pending). One lookup per distinct pending identifier
    and scope, not per row. Returns how many rows resolved."""
    now = now or timezone.now()
    pending = EpcisIdentifier.objects.filter(resolved_at__isnull=True)
    if site_ids is not None:
        pending = pending.filter(Q(site_id__in=list(site_ids)) | Q(site__isnull=True))
    groups = pending.values_list("site_id", "event__capture__created_by", "uri").distinct().order_by()
    senders: dict[int, tuple[int, ...]] = {}
    knowers: dict[tuple[int, ...], Known] = {}
    resolved = 0
    for site_id, sender_id, uri in groups:
        rows = pending.filter(uri=uri)
        if site_id is not None:
            scope: tuple[int, ...] = (site_id,)
            rows = rows.filter(site_id=site_id)
        else:
            scope = _sender_sites(sender_id, senders)
            rows = rows.filter(site__isnull=True, event__capture__created_by=sender_id)
        known = knowers.setdefault(scope, Known(scope))
        _kind, _key, is_known, item, location = known.lookup(uri)
        if is_known:
            resolved += rows.update(resolved_at=now, item=item, location=location)
    return resolved


def _sender_sites(sender_id: int | None, cache: dict[int, tuple[int, ...]]) -> tuple[int, ...]:
    """The sites a capture's sender holds now (none for a sender since deleted)."""
    if sender_id is None:
        return ()
    if sender_id not in cache:
        sender = get_user_model().objects.filter(pk=sender_id).first()
        cache[sender_id] = tuple(sorted(granted_site_ids(sender))) if sender is not None else ()
    return cache[sender_id]
