"""EPCIS 2.0 query: Shopfloor's own stock moves and WIP steps as EPCIS events.

Sources, each one query per page whatever its size (select_related, no
per-row lookups), merged by (eventTime, source, id):

* every ``StockMove`` the user may see (either end at one of their sites): a
  receipt is an ObjectEvent ADD (``receiving``), a shipment an OBSERVE
  (``shipping``/``in_transit``), a transfer an OBSERVE (``storing``; legs through
  a site's in-transit location ``departing`` / ``arriving``), a scrap a DELETE
  (``destroying``), an adjustment or count ADD/DELETE (``stock_taking`` /
  ``cycle_counting``); an issue to production is a TransformationEvent with
  inputs, a production one with outputs, both with the work order as
  ``transformationID`` (so a work order's consumption and output are one
  transformation, as EPCIS links them);
* every WIP step (``OperationRun``) the user may see, as up to three
  ObjectEvents of the work order's item (class quantity, the output lot when
  known): arriving (queued at a station, which includes release), started
  (``assembling``), finished (``inspecting``, ``conformant`` or
  ``non_conformant``), with the work order as a ``prodorder`` bizTransaction.

Event ids are stable (``urn:uuid:`` v5 of the row), so a partner polling the
query can drop what it has. Paging: ``perPage`` (default 100, at most 1000) and
an opaque ``nextPageToken`` (also in the ``Link: rel="next"`` header).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from config.db_routers import on_replica
from devices.epcis import mapping
from devices.epcis.mapping import decimal_json, parse_location, parse_object
from devices.epcis.query_params import (  # noqa: F401 - re-exported: the query's public names
    DEFAULT_PAGE,
    EVENT_TYPES,
    MAX_PAGE,
    EventQuery,
    QueryParameterInvalid,
    QueryParameterUnsupported,
    encode_token,
    query_from_params,
)
from inventory.models import StockMove
from tracker.models import Location, LocationKind
from wip.models import InspectionState, OperationRun, RunStatus

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"shopfloor": "https://shopfloor.example/epcis/"},
]
NAMESPACE = uuid.UUID("6f1c1c7e-5d0b-4f52-9e39-3f3c2b1c7a10")
RUN_PHASES = (("queued", "queued_at", 1), ("started", "started_at", 2), ("finished", "finished_at", 3))
MOVE_RANK = 0


# --------------------------------------------------------------------------- filters


def _locations(uris: tuple[str, ...]) -> list[int]:
    """Location ids named by readPoint / bizLocation URIs (scoping comes from the event querysets)."""
    q = Q()
    for uri in uris:
        parsed = parse_location(uri)
        if parsed is None:
            continue
        kind, key, ext = parsed
        if kind == "private":
            q |= Q(site__code=key, code=ext)
        elif ext == "0":
            q |= Q(gln=key)
        else:
            q |= Q(code=ext) & (Q(site__gln=key) | Q(site__locations__gln=key))
    if not q:
        return []
    return list(Location.objects.filter(q).values_list("pk", flat=True).distinct())


def _object_q(uris: tuple[str, ...], *, prefix: str, kinds: set[str], units: bool = True) -> Q | None:
    """Rows naming one of ``uris`` (of ``kinds``); ``units``: the rows have serial and lot
    (stock moves), else only the item (a work order: its lot is matched by the caller)."""
    q = Q()
    for uri in uris:
        ref = parse_object(uri)
        if ref.kind not in kinds:
            continue
        item = Q(**{f"{prefix}item__gtin": ref.gtin}) if ref.gtin else Q(**{f"{prefix}item__sku": ref.sku})
        if not units:
            q |= item
        elif ref.kind == "serial":
            q |= item & Q(**{f"{prefix}serial__serial": ref.value})
        elif ref.kind == "lot":
            q |= item & Q(**{f"{prefix}lot__code": ref.value, f"{prefix}serial__isnull": True})
        else:
            q |= item & Q(**{f"{prefix}serial__isnull": True})
    return q or None


def _move_step_q(steps: frozenset[str]) -> Q:
    q = Q(pk__in=[])
    for kind, (step, _disp) in mapping.MOVE_VOCABULARY.items():
        if step in steps:
            if kind == "transfer":
                q |= Q(kind=kind) & ~Q(source__kind=LocationKind.TRANSIT) & ~Q(destination__kind=LocationKind.TRANSIT)
            else:
                q |= Q(kind=kind)
    if mapping.TRANSFER_OUT[0] in steps:
        q |= Q(kind="transfer", destination__kind=LocationKind.TRANSIT)
    if mapping.TRANSFER_IN[0] in steps:
        q |= Q(kind="transfer", source__kind=LocationKind.TRANSIT)
    return q


def _after_q(field: str, rank: int, after: tuple[dt.datetime, int, int] | None) -> Q:
    if after is None:
        return Q()
    when, after_rank, pk = after
    if rank > after_rank:
        return Q(**{f"{field}__gte": when})
    if rank < after_rank:
        return Q(**{f"{field}__gt": when})
    return Q(**{f"{field}__gt": when}) | Q(**{field: when, "pk__gt": pk})


def _moves(base: QuerySet, query: EventQuery, locations: dict[str, list[int]]) -> QuerySet | None:
    types = query.event_types
    qs = base
    if types is not None:
        wanted = Q(pk__in=[])
        if "ObjectEvent" in types:
            wanted |= ~Q(kind__in=["issue", "produce"])
        if "TransformationEvent" in types:
            wanted |= Q(kind__in=["issue", "produce"])
        qs = qs.filter(wanted)
    if query.ge_time:
        qs = qs.filter(occurred_at__gte=query.ge_time)
    if query.lt_time:
        qs = qs.filter(occurred_at__lt=query.lt_time)
    if query.biz_steps is not None:
        qs = qs.filter(_move_step_q(query.biz_steps))
    if query.epcs:
        q = _object_q(query.epcs, prefix="", kinds={"serial"})
        if q is None:
            return None
        qs = qs.filter(q)
    if query.epc_classes:
        q = _object_q(query.epc_classes, prefix="", kinds={"lot", "item"})
        if q is None:
            return None
        qs = qs.filter(q)
    if "read_points" in locations:
        ids = locations["read_points"]
        qs = qs.filter(Q(destination_id__in=ids) | Q(source_id__in=ids, destination__is_virtual=True))
    if "biz_locations" in locations:
        qs = qs.filter(destination_id__in=locations["biz_locations"], destination__is_virtual=False)
    qs = qs.filter(_after_q("occurred_at", MOVE_RANK, query.after))
    return qs.select_related(
        "item", "lot", "serial", "source", "source__site", "destination", "destination__site"
    ).order_by("occurred_at", "pk")


def _runs(
    base: QuerySet, query: EventQuery, phase: str, field: str, rank: int, locations: dict[str, list[int]]
) -> QuerySet | None:
    if query.event_types is not None and "ObjectEvent" not in query.event_types:
        return None
    if query.epcs:
        return None  # a work order in progress is a class quantity: it has no instance EPCs
    step = mapping.RUN_VOCABULARY[phase][0]
    if query.biz_steps is not None and step not in query.biz_steps:
        return None
    qs = base.filter(**{f"{field}__isnull": False})
    if phase == "finished":
        qs = qs.filter(status__in=[RunStatus.DONE, RunStatus.FAILED])
    if query.ge_time:
        qs = qs.filter(**{f"{field}__gte": query.ge_time})
    if query.lt_time:
        qs = qs.filter(**{f"{field}__lt": query.lt_time})
    if query.epc_classes:
        q = _object_q(query.epc_classes, prefix="work_order__", kinds={"item"}, units=False)
        lots = [parse_object(u) for u in query.epc_classes]
        for ref in lots:
            if ref.kind == "lot":
                item = Q(work_order__item__gtin=ref.gtin) if ref.gtin else Q(work_order__item__sku=ref.sku)
                lot_q = item & Q(work_order__output_lot_code=ref.value)
                q = lot_q if q is None else q | lot_q
        if q is None:
            return None
        qs = qs.filter(q)
    for key in ("read_points", "biz_locations"):
        if key in locations:
            qs = qs.filter(workstation__location_id__in=locations[key])
    qs = qs.filter(_after_q(field, rank, query.after))
    return qs.select_related(
        "work_order",
        "work_order__item",
        "work_order__site",
        "operation",
        "workstation",
        "workstation__location",
        "workstation__location__site",
    ).order_by(field, "pk")


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # an unknown zone name falls back to UTC
        return ZoneInfo("UTC")


def _time_fields(when: dt.datetime, time_zone: str) -> dict[str, str]:
    offset = when.astimezone(_zone(time_zone)).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    utc = when.astimezone(dt.UTC)
    return {
        "eventTime": utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventTimeZoneOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
    }


def _location_id(location: Location) -> str:
    return mapping.location_uri(
        location_gln=location.gln, site_gln=location.site.gln, site_code=location.site.code, code=location.code
    )


def _what(move: StockMove) -> tuple[list[str], list[dict[str, Any]]]:
    item = move.item
    if move.serial is not None:
        return [mapping.serial_uri(gtin=item.gtin, sku=item.sku, serial=move.serial.serial)], []
    if move.lot is not None:
        epc_class = mapping.lot_uri(gtin=item.gtin, sku=item.sku, lot=move.lot.code)
    else:
        epc_class = mapping.item_uri(gtin=item.gtin, sku=item.sku)
    entry: dict[str, Any] = {"epcClass": epc_class, "quantity": decimal_json(move.quantity)}
    if uom := mapping.UNIT_TO_UOM.get(item.unit):
        entry["uom"] = uom
    return [], [entry]


def move_event(move: StockMove) -> dict[str, Any]:
    """One stock move as an EPCIS 2.0 event."""
    source, destination = move.source, move.destination
    place = destination if not destination.is_virtual else source
    site = place.site
    kind = move.kind
    step, disposition = mapping.MOVE_VOCABULARY.get(kind, ("other", "active"))
    if kind == "transfer" and destination.kind == LocationKind.TRANSIT:
        step, disposition = mapping.TRANSFER_OUT
    elif kind == "transfer" and source.kind == LocationKind.TRANSIT:
        step, disposition = mapping.TRANSFER_IN
    epcs, quantities = _what(move)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'move:{move.pk}')}",
        **_time_fields(move.occurred_at, site.time_zone),
        "recordTime": move.recorded_at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if kind in ("issue", "produce"):
        event["type"] = "TransformationEvent"
        side = "input" if kind == "issue" else "output"
        if epcs:
            event[f"{side}EPCList"] = epcs
        if quantities:
            event[f"{side}QuantityList"] = quantities
        if move.reference_type == "work_order" and move.reference:
            event["transformationID"] = mapping.work_order_uri(
                site_gln=site.gln, site_code=site.code, number=move.reference
            )
        if kind == "produce" and move.lot is not None and move.lot.expiry_date:
            event["ilmd"] = {
                "cbvmda:lotNumber": move.lot.code,
                "cbvmda:itemExpirationDate": move.lot.expiry_date.isoformat(),
            }
    else:
        if kind in ("receipt",) or (kind in ("adjust", "count") and source.is_virtual):
            action = "ADD"
        elif kind == "scrap" or (kind in ("adjust", "count") and destination.is_virtual):
            action = "DELETE"
        else:
            action = "OBSERVE"
        event["action"] = action
        if epcs:
            event["epcList"] = epcs
        if quantities:
            event["quantityList"] = quantities
    event["bizStep"] = step
    event["disposition"] = disposition
    event["readPoint"] = {"id": _location_id(place)}
    if not destination.is_virtual:
        event["bizLocation"] = {"id": _location_id(destination)}
    btt = mapping.REFERENCE_BTT.get(move.reference_type)
    if btt and move.reference:
        event["bizTransactionList"] = [
            {
                "type": btt,
                "bizTransaction": mapping.transaction_uri(
                    site_gln=site.gln, site_code=site.code, reference_type=move.reference_type, reference=move.reference
                ),
            }
        ]
    if move.partner:
        party = "destination" if kind == "ship" else "source"
        event[f"{party}List"] = [
            {"type": "owning_party", "source" if party == "source" else "destination": _party_uri(move.partner)}
        ]
    return event


def _party_uri(name: str) -> str:
    return name if ":" in name and " " not in name else f"{mapping.PRIVATE}:party:{uuid.uuid5(NAMESPACE, name)}"


def run_event(run: OperationRun, phase: str, when: dt.datetime) -> dict[str, Any]:
    """One transition of a WIP step as an EPCIS 2.0 ObjectEvent of the work order's item."""
    work_order = run.work_order
    site = work_order.site
    item = work_order.item
    step, disposition = mapping.RUN_VOCABULARY[phase]
    quantity = run.quantity
    if phase == "finished":
        failed = run.status == RunStatus.FAILED or run.inspection == InspectionState.FAILED
        disposition = "non_conformant" if failed else "conformant"
        quantity = run.good_quantity if run.good_quantity > 0 else run.quantity
        if not run.operation.inspection_required and not failed:
            step = "assembling"
    if work_order.output_lot_code and item.tracking != "none":
        epc_class = mapping.lot_uri(gtin=item.gtin, sku=item.sku, lot=work_order.output_lot_code)
    else:
        epc_class = mapping.item_uri(gtin=item.gtin, sku=item.sku)
    entry: dict[str, Any] = {"epcClass": epc_class, "quantity": decimal_json(quantity)}
    if uom := mapping.UNIT_TO_UOM.get(item.unit):
        entry["uom"] = uom
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'run:{run.pk}:{phase}')}",
        **_time_fields(when, site.time_zone),
        "action": "OBSERVE",
        "quantityList": [entry],
        "bizStep": step,
        "disposition": disposition,
    }
    if run.workstation is not None:
        where = {"id": _location_id(run.workstation.location)}
        event["readPoint"] = where
        event["bizLocation"] = dict(where)
    event["bizTransactionList"] = [
        {
            "type": "prodorder",
            "bizTransaction": mapping.work_order_uri(site_gln=site.gln, site_code=site.code, number=work_order.number),
        }
    ]
    event["shopfloor:workOrder"] = work_order.number
    event["shopfloor:operation"] = {"sequence": run.sequence, "name": run.operation.name, "phase": phase}
    return event


# --------------------------------------------------------------------------- the selector


@dataclass
class EventPage:
    events: list[dict[str, Any]]
    next_token: str | None


@on_replica
def epcis_events(*, user: Any, query: EventQuery) -> EventPage:
    """A page of the user's sites' moves and WIP steps as EPCIS events, oldest first.

    Query count: one per source (moves, and each run phase), plus one per
    location filter: the same for one event and for a thousand.
    """
    locations: dict[str, list[int]] = {}
    if query.read_points:
        locations["read_points"] = _locations(query.read_points)
    if query.biz_locations:
        locations["biz_locations"] = _locations(query.biz_locations)
    limit = query.per_page + 1
    rows: list[tuple[dt.datetime, int, int, Any, str]] = []
    moves = _moves(StockMove.objects.restrict(user, "view"), query, locations)
    if moves is not None:
        rows.extend((m.occurred_at, MOVE_RANK, m.pk, m, "move") for m in moves[:limit])
    run_base = OperationRun.objects.restrict(user, "view")
    for phase, field, rank in RUN_PHASES:
        runs = _runs(run_base, query, phase, field, rank, locations)
        if runs is not None:
            rows.extend((getattr(r, field), rank, r.pk, r, phase) for r in runs[:limit])
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    page, more = rows[: query.per_page], len(rows) > query.per_page
    events = [move_event(obj) if phase == "move" else run_event(obj, phase, when) for when, _r, _pk, obj, phase in page]
    token = encode_token((page[-1][0], page[-1][1], page[-1][2])) if more and page else None
    return EventPage(events=events, next_token=token)


def query_document(events: list[dict[str, Any]], *, query_name: str = "SimpleEventQuery") -> dict[str, Any]:
    """An EPCISQueryDocument holding ``events`` (validates against the EPCIS 2.0 schema)."""
    return {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": timezone.now().astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": events}}},
    }
