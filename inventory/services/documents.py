"""Partners' documents of several lines: receipts and shipments, all lines or none."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from inventory import errors
from inventory.models import Receipt, Shipment, StockMove
from inventory.services.movements import _receipt_legs
from inventory.services.outbound import stock_ship
from inventory.services.posting import _Context, _Leg, _post, _publish
from tracker.errors import DomainError
from tracker.models import LocationKind, Site
from tracker.request_context import actor_or_none
from tracker.services import virtual_location
from tracker.transactions import service_atomic


def _lock_order(lines: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Lines in (item, location) order, so two multi-line documents take their locks in
    the same order and cannot deadlock; each keeps its index for error reports."""
    return sorted(enumerate(lines), key=lambda pair: (pair[1]["item"].pk, pair[1]["location"].pk, pair[0]))


#: A line's own problems: collected so the document's error names every bad line.
_LINE_ERRORS = (errors.ValidationFailed, errors.Conflict, errors.NotFound)


@service_atomic
def receipt_create(
    *,
    site: Site,
    reference: str,
    lines: Sequence[dict[str, Any]],
    supplier: str = "",
    external_id: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> Receipt:
    """Receive a purchase order's lines at once: all lines or none.

    Each line: item, quantity, location (at ``site``), lot_code, serials,
    expiry_date, manufactured_date, external_id. A bad line raises its
    domain error: ``LinesInvalid`` names every bad line (index, code, field,
    detail) and nothing is written.
    """
    ctx = _Context(
        kind=StockMove.Kind.RECEIPT,
        reference=reference,
        reference_type="purchase_order",
        partner=supplier,
        actor=actor,
        occurred_at=occurred_at,
    )
    batch = ctx.batch
    source = virtual_location(site=site, kind=LocationKind.SUPPLIER)
    legs_by_line: dict[int, list[_Leg]] = {}
    bad: list[tuple[int, DomainError]] = []
    for index, line in _lock_order(lines):
        if line["location"].site_id != site.pk:
            bad.append((index, errors.InvalidLocation("The location is not at the receipt's site.", field="location")))
            continue
        try:
            legs_by_line[index] = _receipt_legs(
                item=line["item"],
                quantity=line["quantity"],
                location=line["location"],
                lot_code=line.get("lot_code"),
                serials=line.get("serials"),
                expiry_date=line.get("expiry_date"),
                manufactured_date=line.get("manufactured_date"),
                reference=reference,
                supplier=supplier,
                source=source,
                external_id=line.get("external_id", ""),
            )
        except _LINE_ERRORS as exc:
            # Checks raise before a line writes; what earlier good lines wrote is rolled back
            # with the whole document below, so going on to name every bad line is safe.
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    # All lines in one posting: one lock statement, one insert, one broadcast.
    order = sorted(legs_by_line)
    moves = _post([leg for index in order for leg in legs_by_line[index]], ctx)
    receipt = Receipt.objects.create(
        site=site,
        reference=reference,
        supplier=supplier,
        external_id=external_id,
        batch=batch,
        received_at=occurred_at or timezone.now(),
        actor=actor_or_none(actor),
    )
    receipt.moves_posted = moves
    _publish(
        site_id=site.pk,
        type="receipt.posted",
        data={
            "receipt": {
                "reference": reference,
                "supplier": supplier,
                "external_id": external_id,
                "lines": len(lines),
                "moves": [m.pk for m in receipt.moves_posted][:100],
            }
        },
    )
    return receipt


@service_atomic
def shipment_create(
    *,
    site: Site,
    reference: str,
    lines: Sequence[dict[str, Any]],
    customer: str = "",
    external_id: str = "",
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> Shipment:
    """Ship a sales order's lines at once: all lines or none (see ``stock_ship``).

    Lines are shipped in lock order, each in its own savepoint; when any is bad,
    ``LinesInvalid`` names every bad line and nothing is written. A line short of
    stock because an earlier line of the same document took it is a bad line too.
    """
    by_line: dict[int, list[StockMove]] = {}
    bad: list[tuple[int, DomainError]] = []
    for index, line in _lock_order(lines):
        if line["location"].site_id != site.pk:
            bad.append((index, errors.InvalidLocation("The location is not at the shipment's site.", field="location")))
            continue
        try:
            # stock_ship is atomic: a bad line's savepoint is rolled back, the others go on.
            by_line[index] = stock_ship(
                item=line["item"],
                quantity=line["quantity"],
                location=line["location"],
                lot=line.get("lot"),
                serials=line.get("serials"),
                reference=reference,
                customer=customer,
                actor=actor,
                occurred_at=occurred_at,
                external_id=line.get("external_id", ""),
            )
        except _LINE_ERRORS as exc:
            bad.append((index, exc))
    if bad:
        raise errors.LinesInvalid(bad)
    shipment = Shipment.objects.create(
        site=site,
        reference=reference,
        customer=customer,
        external_id=external_id,
        batch=uuid.uuid4(),
        shipped_at=occurred_at or timezone.now(),
        actor=actor_or_none(actor),
    )
    shipment.moves_posted = [m for index in sorted(by_line) for m in by_line[index]]
    _publish(
        site_id=site.pk,
        type="shipment.posted",
        data={
            "shipment": {
                "reference": reference,
                "customer": customer,
                "external_id": external_id,
                "lines": len(lines),
                "moves": [m.pk for m in shipment.moves_posted][:100],
            }
        },
    )
    return shipment
