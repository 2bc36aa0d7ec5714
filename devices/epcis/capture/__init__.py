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

Unknown things: an event naming objects or places Shopfloor does not know,
or of a site the caller may not use (the two are answered alike), is never
refused for it: what can be applied is, the rest is recorded (outcome
``unknown`` when nothing applied) and each unresolved identifier kept until its
master data arrives (``devices.epcis.unresolved``). Nothing of another site is
read into or written. A valid document is refused only by the ledger's rules
(stock not there, another unit than the item's, a serial made or used twice).
Sensor reports, association links and error declarations are recorded per event
(``devices.epcis.records``).

Modules: ``state`` (an event's state, the errors, what its fields say),
``resolution`` (places and objects, and where quantities are taken from:
inventory's ``stock_pick``), ``effects`` (receive, move, ship, scrap through the
inventory services), ``handlers`` (one per event type) and ``service``
(``epcis_capture`` itself); every name is re-exported here.
"""

from __future__ import annotations

from devices.epcis.capture.effects import _arrivals, _move_quantities, _move_units, _outbound, _receive_new
from devices.epcis.capture.handlers import (
    HANDLERS,
    _aggregation_event,
    _apply_object_semantics,
    _object_event,
    _recorded_only,
    _transformation_event,
)
from devices.epcis.capture.resolution import (
    _expand_container,
    _in_stock,
    _inside,
    _locate,
    _Objects,
    _picked,
    _require_location,
    _resolve_objects,
    _Resolver,
    _take,
    _Where,
)
from devices.epcis.capture.service import _FIELD_HINTS, _field_of, epcis_capture
from devices.epcis.capture.state import (
    EPCIS_REF,
    MAX_EVENTS,
    CaptureResult,
    EpcisInvalid,
    EventRefused,
    UnknownEpc,
    UnknownLocation,
    _event_id,
    _EventState,
    _ilmd,
    _party,
    _quantity,
    _references,
)

__all__ = [
    "CaptureResult",
    "EPCIS_REF",
    "EpcisInvalid",
    "EventRefused",
    "HANDLERS",
    "MAX_EVENTS",
    "UnknownEpc",
    "UnknownLocation",
    "_EventState",
    "_FIELD_HINTS",
    "_Objects",
    "_Resolver",
    "_Where",
    "_aggregation_event",
    "_apply_object_semantics",
    "_arrivals",
    "_event_id",
    "_expand_container",
    "_field_of",
    "_ilmd",
    "_in_stock",
    "_inside",
    "_locate",
    "_move_quantities",
    "_move_units",
    "_object_event",
    "_outbound",
    "_party",
    "_picked",
    "_quantity",
    "_receive_new",
    "_recorded_only",
    "_references",
    "_require_location",
    "_resolve_objects",
    "_take",
    "_transformation_event",
    "epcis_capture",
]
