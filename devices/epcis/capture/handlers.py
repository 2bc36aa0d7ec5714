"""Event handlers: each EPCIS event type applied through the object effects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from devices.epcis import mapping
from devices.epcis.capture.effects import _arrivals, _move_quantities, _move_units, _outbound, _receive_new
from devices.epcis.capture.resolution import (
    _in_stock,
    _locate,
    _picked,
    _resolve_objects,
    _Resolver,
    _take,
)
from devices.epcis.capture.state import (
    EPCIS_REF,
    _event_id,
    _EventState,
    _ilmd,
    _party,
    _references,
)
from devices.epcis.mapping import bare, parse_object
from devices.epcis.models import Containment, EpcisEvent
from inventory import errors as inv_errors
from inventory import services as stock
from inventory.models import Item, StockMove


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
    objects = _resolve_objects(
        epcs,
        quantities,
        resolver=resolver,
        state=state,
        list_field=list_field,
        quantity_field=quantity_field,
    )
    state.unresolved(len(objects.unknown))
    new_serials = sum(len(s) for _, s in objects.new_serials.values())
    if action == "DELETE" or step in mapping.SCRAP_STEPS:
        state.unresolved(new_serials)  # nothing of ours to take out of stock
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
        state.unresolved(new_serials)
        if objects.quantities and location is None and (place is None or place.foreign):
            state.unresolved(len(objects.quantities))  # shipped from a place not ours
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
            state.unresolved(new_serials + len(objects.quantities))  # received at a place not ours
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
    state.unresolved(new_serials)
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
            return  # nothing named to unpack: recorded
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
    if site_id is None:  # packed at a place not ours, of objects not ours: recorded
        state.unresolved(1 if action == "ADD" else 0)
        return
    objects = _resolve_objects(
        children,
        child_quantities,
        resolver=resolver,
        state=state,
        list_field="childEPCs",
        quantity_field="childQuantityList",
        expand_containers=False,
    )
    open_children = set(
        Containment.objects.filter(site_id=site_id, parent=parent, unpacked_at__isnull=True).values_list(
            "child", flat=True
        )
    )
    new_rows: list[Containment] = []
    by_serial = {(u.item.gtin, u.serial): u for u in objects.units}
    for uri in children:
        if uri in open_children:
            continue
        ref = parse_object(uri)
        unit = by_serial.get((ref.gtin, ref.value)) if ref.kind == "serial" else None
        if unit is None and ref.kind == "serial":
            item = resolver.item(ref)
            unit = resolver.serial(item, ref.value) if item else None
        new_rows.append(Containment(site_id=site_id, parent=parent, child=uri, serial=unit, packed_at=state.at))
    for entry, (item, lot, code, qty, _name) in zip(child_quantities, objects.quantities, strict=False):
        if entry["epcClass"] in open_children:
            continue
        lot = lot or (resolver.lot(item, code) if code else None)
        new_rows.append(
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
    Containment.objects.bulk_create(new_rows)
    state.count("containments", len(new_rows))


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
    )
    # Inputs Shopfloor does not hold (unknown, never received, of another site) are recorded, not consumed.
    state.unresolved(len(inputs.unknown) + sum(len(s) for _, s in inputs.new_serials.values()))
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
        if (code and lot is None) or site_id is None:
            state.unresolved()  # a lot never received, or taken from a place not ours
            continue
        if qty is None:
            state.count("unquantified")  # "some of it": no amount to consume
            continue
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
    )
    state.unresolved(len(outputs.unknown))
    if outputs.units:
        unit = outputs.units[0]
        raise inv_errors.SerialDuplicate(
            f"Serial {unit.serial} of {unit.item.sku} already exists.", field="outputEPCList"
        )
    if not (outputs.new_serials or outputs.quantities):
        return
    if location is None:  # made at a place not ours: recorded
        state.unresolved(sum(len(s) for _, s in outputs.new_serials.values()) + len(outputs.quantities))
        return
    target = location
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
    for item, _lot, code, qty, _name in outputs.quantities:
        if qty is None:
            state.count("unquantified")
            continue
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
