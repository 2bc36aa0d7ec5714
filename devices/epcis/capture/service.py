"""``epcis_capture``: validate a document and apply its events, all or nothing."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction

from devices.epcis.capture.handlers import HANDLERS
from devices.epcis.capture.resolution import _Resolver
from devices.epcis.capture.state import MAX_EVENTS, CaptureResult, EpcisInvalid, EventRefused, _event_id, _EventState
from devices.epcis.mapping import bare
from devices.epcis.models import EpcisCapture, EpcisEvent, EpcisOutcome
from devices.parsers import epcis2
from devices.parsers._common import iso_time
from devices.parsers.base import ParseError
from tracker.errors import DomainError
from tracker.scoping import granted_site_ids


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
