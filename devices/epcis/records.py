"""What a captured event records besides its ledger effects (EPCIS 2.0 §7.3–7.4):

* ``epcis_associations_record``: an AssociationEvent links a sensor, tag or
  object (or a quantity of a class) to its parent (an asset, a container, a
  place): ADD and OBSERVE open ``Association`` rows (once per parent and child),
  DELETE closes the named children, or all of the parent's when none is named.
  A parent or child that is a Shopfloor device (a sensor's GIAI as its
  ``device_id``) is linked to it.
* ``epcis_sensor_reports_record``: every ``sensorReport`` of any event becomes an
  ``EpcisSensorReport`` with its type, device, time, values, uom and its
  ``exception`` (``ALARM_CONDITION`` sets ``alarm``; ``ERROR_CONDITION`` is kept as
  the sensor's own fault), the report as sent in ``body``.
* ``epcis_error_declaration_record``: an event carrying ``errorDeclaration`` marks
  the erroneous event (time, reason, corrective event IDs) and each corrective
  event already captured (``corrects``); ``epcis_corrections_apply`` marks an event
  captured after the declaration that names it.

None of these decides a business effect: they keep what the partner said, in a
form the pages and the query can read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q

from devices.epcis.mapping import bare
from devices.epcis.models import Association, EpcisCorrection, EpcisEvent, EpcisSensorReport, SensorException
from devices.models import Device
from devices.parsers._common import iso_time
from devices.parsers.base import ParseError

#: The largest magnitude the sensor value columns hold (24 digits, 8 after the point).
_MAX_SENSOR = Decimal("1e16")


def _decimal(value: Any, *, limit: Decimal = _MAX_SENSOR) -> Decimal | None:
    """A JSON number as a Decimal, or None when it is not one or does not fit the column
    (the report's body keeps it as sent)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) >= limit:
        return None
    return number.quantize(Decimal("0.00000001"))


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return iso_time(value, "sensorReport.time")
    except ParseError:
        return None


def epcis_sensor_reports_record(*, record: EpcisEvent, event: dict[str, Any], at: dt.datetime) -> int:
    """One ``EpcisSensorReport`` per report of the event's sensor elements. Returns how many."""
    rows = []
    for element in event.get("sensorElementList", ()):
        if not isinstance(element, dict):
            continue
        meta = element.get("sensorMetadata") or {}
        for report in element.get("sensorReport", ()):
            if not isinstance(report, dict):
                continue
            exception = report.get("exception") or ""
            if exception not in SensorException.values:
                exception = ""
            boolean = report.get("booleanValue")
            rows.append(
                EpcisSensorReport(
                    event=record,
                    site_id=record.site_id,
                    device_id=str(report.get("deviceID") or meta.get("deviceID") or "")[:255],
                    type=bare(str(report.get("type") or ""))[:255],
                    time=_time(report.get("time")) or _time(meta.get("time")) or _time(meta.get("endTime")) or at,
                    value=_decimal(report.get("value")),
                    min_value=_decimal(report.get("minValue")),
                    max_value=_decimal(report.get("maxValue")),
                    mean_value=_decimal(report.get("meanValue")),
                    uom=str(report.get("uom") or "")[:16],
                    exception=exception,
                    alarm=exception == SensorException.ALARM,
                    boolean_value=boolean if isinstance(boolean, bool) else None,
                    body=report,
                )
            )
    EpcisSensorReport.objects.bulk_create(rows)
    return len(rows)


def epcis_associations_record(
    *, record: EpcisEvent, event: dict[str, Any], at: dt.datetime, allowed: set[int], sender_id: int | None
) -> dict[str, int]:
    """Open or close the ``Association`` rows of an AssociationEvent, within what the sender
    may touch: rows of its ``allowed`` sites (or its own rows without a site), devices of
    those sites. Returns counts (``associated``, ``dissociated``)."""
    parent = event.get("parentID")
    if not isinstance(parent, str) or not parent:
        return {"associated": 0, "dissociated": 0}
    children: list[tuple[str, Decimal | None, str]] = [
        (uri, None, "") for uri in event.get("childEPCs", ()) if isinstance(uri, str)
    ]
    children += [
        (entry["epcClass"], _decimal(entry.get("quantity"), limit=Decimal("1e14")), str(entry.get("uom") or "")[:8])
        for entry in event.get("childQuantityList", ())
        if isinstance(entry, dict) and isinstance(entry.get("epcClass"), str)
    ]
    mine = Q(site_id__in=allowed) | Q(site__isnull=True, event__capture__created_by_id=sender_id)
    open_rows = Association.objects.filter(mine, parent=parent, dissociated_at__isnull=True)
    if event.get("action") == "DELETE":
        if children:
            open_rows = open_rows.filter(child__in=[child for child, _q, _u in children])
        return {"associated": 0, "dissociated": open_rows.update(dissociated_at=at)}
    same_site = Q(site__isnull=True) if record.site_id is None else Q(site_id=record.site_id)
    already = set(open_rows.filter(same_site).values_list("child", flat=True))
    names = [parent, *(child for child, _q, _u in children)]
    devices = {d.device_id: d for d in Device.objects.filter(device_id__in=names, site_id__in=allowed)}
    rows = [
        Association(
            site_id=record.site_id,
            parent=parent[:255],
            child=child[:255],
            quantity=quantity,
            uom=uom,
            device=devices.get(child) or devices.get(parent),
            associated_at=at,
            event=record,
        )
        for child, quantity, uom in dict.fromkeys(children)
        if child not in already
    ]
    Association.objects.bulk_create(rows)
    return {"associated": len(rows), "dissociated": 0}


def epcis_error_declaration_record(*, record: EpcisEvent, event: dict[str, Any], mine: Q) -> bool:
    """Mark ``record`` erroneous as the event's ``errorDeclaration`` says, link it to its
    corrective events and mark those already captured among the sender's (``mine``: its
    sites' events and its own captures). False if there is no declaration."""
    declaration = event.get("errorDeclaration")
    if not isinstance(declaration, dict):
        return False
    declared_at = _time(declaration.get("declarationTime")) or record.event_time
    reason = bare(str(declaration.get("reason") or ""))[:255]
    corrective = [str(i)[:255] for i in declaration.get("correctiveEventIDs", ()) if isinstance(i, str)]
    EpcisEvent.objects.filter(pk=record.pk).update(
        error_declared_at=declared_at, error_reason=reason, corrective_event_ids=corrective
    )
    record.error_declared_at, record.error_reason, record.corrective_event_ids = declared_at, reason, corrective
    EpcisCorrection.objects.bulk_create(
        [
            EpcisCorrection(
                erroneous_event_id=record.event_id, corrective_event_id=cid, declared_at=declared_at, reason=reason
            )
            for cid in corrective
        ],
        ignore_conflicts=True,
    )
    EpcisEvent.objects.filter(mine, event_id__in=corrective, corrects="").update(corrects=record.event_id)
    return True


def epcis_corrections_apply(*, record: EpcisEvent, mine: Q) -> str:
    """If an earlier declaration of one of the sender's events (``mine``) named ``record`` as
    a corrective event, mark it so. Returns the eventID it corrects ("" if none)."""
    erroneous = EpcisEvent.objects.filter(mine, error_declared_at__isnull=False).values("event_id")
    link = (
        EpcisCorrection.objects.filter(corrective_event_id=record.event_id, erroneous_event_id__in=erroneous)
        .order_by("pk")
        .first()
    )
    if link is None:
        return ""
    EpcisEvent.objects.filter(pk=record.pk).update(corrects=link.erroneous_event_id)
    record.corrects = link.erroneous_event_id
    return link.erroneous_event_id
