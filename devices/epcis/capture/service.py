"""``epcis_capture``: validate a document and apply its events, all or nothing.

Per event, after its ledger and WIP effects (``handlers``): its sensor reports,
an AssociationEvent's links, the identifiers it named that Shopfloor does not
know (kept unresolved), and the marks of error declarations (``records``,
``unresolved``). An event that arrives already declared erroneous is recorded
and marked, without effects; a declaration for an event captured before (same
eventID, as the standard sends it) marks that event instead of being a duplicate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from devices.epcis.capture.handlers import HANDLERS
from devices.epcis.capture.resolution import _Resolver
from devices.epcis.capture.state import MAX_EVENTS, CaptureResult, EpcisInvalid, EventRefused, _event_id, _EventState
from devices.epcis.mapping import bare
from devices.epcis.models import EpcisCapture, EpcisEvent, EpcisOutcome
from devices.epcis.records import (
    epcis_associations_record,
    epcis_corrections_apply,
    epcis_error_declaration_record,
    epcis_sensor_reports_record,
)
from devices.epcis.unresolved import Known, epcis_identifiers_record
from devices.parsers import epcis2
from devices.parsers._common import iso_time
from devices.parsers.base import ParseError
from tracker.errors import DomainError
from tracker.scoping import granted_site_ids
from tracker.transactions import service_atomic


@service_atomic
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
    allowed = set(granted_site_ids(user))
    resolver = _Resolver(allowed=allowed)
    known = Known(allowed)
    # An event naming nothing Shopfloor knows still belongs somewhere: the sender's site, when it has one.
    only_site = next(iter(allowed)) if len(allowed) == 1 else None
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
            counts["declared" if _declare_again(event_id, event, user=user, allowed=allowed) else "duplicate"] += 1
            continue
        declared = isinstance(event.get("errorDeclaration"), dict)
        if declared:
            state.count("error_declared")  # erroneous as sent: kept and marked, no effect
        else:
            try:
                HANDLERS[event["type"]](state, resolver, user)
            except DomainError as exc:
                raise EventRefused(exc, index=index, event=event, field_hint=_FIELD_HINTS.get(event["type"])) from None
        record.site_id = state.site_id or only_site
        _record(record, state, known=known, declared=declared, counts=counts, user=user)
        effects = dict(state.effects)
        if state.moves:
            effects["move_ids"] = [m.pk for m in state.moves]
        if state.unknown and not state.moves and not set(state.effects) - _BOOKKEEPING:
            outcome = EpcisOutcome.UNKNOWN
        elif state.moves or set(state.effects) - _NO_LEDGER_EFFECT:
            outcome = EpcisOutcome.APPLIED
        else:
            outcome = EpcisOutcome.RECORDED
        EpcisEvent.objects.filter(pk=record.pk).update(outcome=outcome, effects=effects, site_id=record.site_id)
        counts[outcome] += 1
        counts["moves"] += len(state.moves)
        for name in ("arrivals", "containments"):
            counts[name] += state.effects.get(name, 0)
        first_site = first_site or state.site_id
    for name in COUNTS:
        counts[name] += 0  # always present in the answer
    EpcisCapture.objects.filter(pk=capture.pk).update(counts=dict(counts), site_id=first_site)
    capture.counts, capture.site_id = dict(counts), first_site
    return CaptureResult(capture=capture, counts=dict(counts))


#: Effects that only say what was recorded, and those that leave the ledger and WIP as they were.
_BOOKKEEPING = frozenset({"unknown_epcs", "unresolved", "corrects"})
_NO_LEDGER_EFFECT = _BOOKKEEPING | {
    "already_booked",
    "unquantified",
    "error_declared",
    "associated",
    "dissociated",
}
COUNTS = (
    "applied",
    "recorded",
    "unknown",
    "duplicate",
    "declared",
    "moves",
    "arrivals",
    "containments",
    "associations",
    "sensor_reports",
    "unresolved",
)


def _record(
    record: EpcisEvent, state: _EventState, *, known: Known, declared: bool, counts: dict[str, int], user: Any
) -> None:
    """What the event records besides its effects (see the module docstring)."""
    mine = _mine(user, known.allowed)
    if declared:
        epcis_error_declaration_record(record=record, event=state.event, mine=mine)
    if corrects := epcis_corrections_apply(record=record, mine=mine):
        state.effects["corrects"] = corrects
    reports = epcis_sensor_reports_record(record=record, event=state.event, at=state.at)
    counts["sensor_reports"] += reports
    if state.event.get("type") == "AssociationEvent" and not declared:
        linked = epcis_associations_record(
            record=record,
            event=state.event,
            at=state.at,
            allowed=known.allowed,
            sender_id=getattr(user, "pk", None),
        )
        for name, n in linked.items():
            if n:
                state.count(name, n)
        counts["associations"] += linked["associated"]
    unresolved = epcis_identifiers_record(record=record, event=state.event, known=known)
    if unresolved:
        state.effects["unresolved"] = unresolved
        counts["unresolved"] += unresolved


def _declare_again(event_id: str, event: dict[str, Any], *, user: Any, allowed: set[int]) -> bool:
    """A captured event sent again with an ``errorDeclaration`` (EPCIS 2.0 §7.4.1.4: the same
    eventID): mark the stored one, if it is the sender's (its site, or captured by them)."""
    if not isinstance(event.get("errorDeclaration"), dict):
        return False
    mine = _mine(user, allowed)
    stored = EpcisEvent.objects.filter(mine, event_id=event_id, error_declared_at__isnull=True).first()
    if stored is None:
        return False
    return epcis_error_declaration_record(record=stored, event=event, mine=mine)


def _mine(user: Any, allowed: set[int]) -> Q:
    """The captured events a sender may mark: of its sites, or captured by it."""
    mine = Q(site_id__in=allowed)
    if getattr(user, "pk", None):
        mine |= Q(capture__created_by=user)
    return mine


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
