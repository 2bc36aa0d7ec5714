"""Excursions that protect stock: hold what is inside a zone when its rule's alert is
raised, list what left during the excursion, and the inspector's decisions.

Every stock effect goes through ``inventory.services`` (``zone_contents_hold``,
``lot_set_status``, ``serial_hold_release``, ``stock_scrap``); this module only
records which excursion held what and what was decided. Excursions may overlap (two rules,
or a zone and its bin): what several hold is released by the last of them to release it,
and only if no hold for another reason stands (``_release``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from devices.models import Excursion, ExcursionEntry, ThresholdRule
from inventory import services as inventory
from inventory.models import Lot, SerialUnit, StockLevel, StockMove
from tracker.errors import ValidationFailed
from tracker.models import Alert, Location
from tracker.request_context import actor_or_none


def _hold_reason(excursion: Excursion, rule: ThresholdRule) -> str:
    return (
        f"excursion {excursion.pk}: {rule.name} ({rule.metric} in {excursion.location.code} "
        f"since {excursion.started_at.isoformat(timespec='seconds')})"
    )


def excursion_open(
    *, rule: ThresholdRule, alert: Alert, started_at: dt.datetime, raised_at: dt.datetime, reading: dict[str, Any]
) -> Excursion:
    """The rule's alert was raised (or re-raised while open): open its excursion (one per
    alert) and hold every lot and serial in stock in the rule's zone, recording the rule,
    the reading and the breach's start on each hold (the lot's status reason says which
    excursion). Lots that left the zone since the start are listed, not held.

    Guarantees: idempotent per alert (a re-fire adds the reading and only what was not
    yet recorded); runs in the caller's transaction (the upload's), so the holds commit
    with the alert or not at all. A rule without ``hold_contents`` or a zone: nothing.
    """
    if not rule.hold_contents or rule.location is None:
        raise ValidationFailed("This rule does not hold what is inside its zone.", field="rule")
    zone: Location = rule.location
    with transaction.atomic():
        excursion, created = Excursion.objects.select_for_update().get_or_create(
            alert=alert,
            defaults={
                "site_id": rule.site_id,
                "rule": rule,
                "location": zone,
                "metric": rule.metric,
                "started_at": started_at,
                "raised_at": raised_at,
                "readings": [reading],
            },
        )
        if not created and reading not in excursion.readings:
            excursion.readings = [*excursion.readings, reading][-100:]
            Excursion.objects.filter(pk=excursion.pk).update(readings=excursion.readings)
        held = inventory.zone_contents_hold(zone=zone, reason=_hold_reason(excursion, rule))
        lot_priors, serial_priors = _priors_held_elsewhere(excursion, held)
        known: set[tuple[str, int, int | None, int | None]] = set(
            excursion.entries.values_list("kind", "item_id", "lot_id", "serial_id")
        )
        rows: list[ExcursionEntry] = []

        def add(kind: str, **fields: Any) -> None:
            key = (kind, fields["item"].pk, _pk(fields.get("lot")), _pk(fields.get("serial")))
            if key not in known:
                known.add(key)
                rows.append(ExcursionEntry(excursion=excursion, kind=kind, **fields))

        # One held entry per lot (its status is the lot's, wherever it is): its on-hand in the zone.
        per_lot: dict[int, tuple[Lot, set[Location], Decimal, str]] = {}
        for lot, location, quantity, prior in held.lots:
            if lot.item.is_serial_tracked:
                continue  # its serials are listed one by one below
            prior = lot_priors.get(lot.pk, prior)
            _, places, total, _ = per_lot.get(lot.pk, (lot, set(), Decimal(0), prior))
            per_lot[lot.pk] = (lot, places | {location}, total + quantity, prior)
        for lot, places, total, prior in per_lot.values():
            where = next(iter(places)) if len(places) == 1 else zone
            add(ExcursionEntry.Kind.HELD, item=lot.item, lot=lot, location=where, quantity=total, prior_status=prior)
        for unit, prior in held.serials:
            add(
                ExcursionEntry.Kind.HELD,
                item=unit.item,
                lot=unit.lot,
                serial=unit,
                location=unit.location,
                quantity=Decimal(1),
                prior_status=serial_priors.get(unit.pk, prior),
            )
        held_keys = {key[1:] for key in known if key[0] == ExcursionEntry.Kind.HELD}
        for left in left_during(zone=zone, since=started_at):
            if (left["item"].pk, _pk(left["lot"]), _pk(left["serial"])) in held_keys:
                continue
            add(ExcursionEntry.Kind.LEFT, **left)
        ExcursionEntry.objects.bulk_create(rows)
    return excursion


def _still_holding(excursion: Excursion) -> QuerySet[ExcursionEntry]:
    """Held entries of *other* excursions not decided yet: each still holds its lot or serial."""
    return ExcursionEntry.objects.filter(kind=ExcursionEntry.Kind.HELD, decision="").exclude(excursion=excursion)


def _priors_held_elsewhere(excursion: Excursion, held: Any) -> tuple[dict[int, str], dict[int, str]]:
    """For what ``held`` found already on hold *because another open excursion holds it*, the
    status it had before that excursion (its entry's prior status), by lot and by serial id.

    Without it the second of two overlapping excursions would record "on hold" as the status
    before and never release what the first one held for both."""
    lot_ids = {
        lot.pk
        for lot, _, _, prior in held.lots
        if prior == Lot.Status.ON_HOLD and lot.status_reason.startswith("excursion ")
    }
    serial_ids = {unit.pk for unit, prior in held.serials if prior == SerialUnit.Status.ON_HOLD}
    if not lot_ids and not serial_ids:
        return {}, {}
    lots: dict[int, str] = {}
    serials: dict[int, str] = {}
    rows = (
        _still_holding(excursion)
        .filter(Q(lot_id__in=lot_ids, serial__isnull=True) | Q(serial_id__in=serial_ids))
        .order_by("pk")
        .values_list("lot_id", "serial_id", "prior_status")
    )
    for lot_id, serial_id, prior in rows:  # the earliest entry: the status before the first hold
        if serial_id is not None:
            serials.setdefault(serial_id, prior)
        else:
            lots.setdefault(lot_id, prior)
    return lots, serials


def _pk(obj: Any) -> int | None:
    return obj.pk if obj is not None else None


def left_during(*, zone: Location, since: dt.datetime) -> list[dict[str, Any]]:
    """Lots (and serials) that moved out of ``zone`` since ``since``: per (item, lot, serial)
    the quantity moved out and where the last such move went. One grouped query and one
    for the rows it names."""
    out = (
        StockMove.objects.filter(
            source__path__startswith=zone.path, source__site_id=zone.site_id, occurred_at__gte=since
        )
        .exclude(destination__path__startswith=zone.path)
        .exclude(lot__isnull=True, serial__isnull=True)
        .values("item_id", "lot_id", "serial_id")
        .annotate(quantity=Sum("quantity"), last=Max("pk"))
        .order_by("item_id", "lot_id", "serial_id")
    )
    rows = list(out)
    last = {
        m.pk: m
        # The window again: on PostgreSQL the ledger is partitioned by month, and the ids alone
        # would probe every month's partition.
        for m in StockMove.objects.filter(pk__in=[r["last"] for r in rows], occurred_at__gte=since).select_related(
            "item", "lot", "serial", "destination"
        )
    }
    return [
        {
            "item": last[r["last"]].item,
            "lot": last[r["last"]].lot,
            "serial": last[r["last"]].serial,
            "location": last[r["last"]].destination,
            "quantity": r["quantity"],
        }
        for r in rows
    ]


RELEASE, SCRAP = "release", "scrap"


@transaction.atomic(durable=True)
def excursion_decide(
    *, excursion: Excursion, entries: Iterable[ExcursionEntry], decision: str, actor: Any, note: str = ""
) -> list[ExcursionEntry]:
    """The inspector's decision on held entries of ``excursion``: ``release`` (the lot or
    serial returns to the status it had before, if an excursion put it on hold and no other
    open excursion still holds it) or
    ``scrap`` (what is still on hand in the zone of it goes to scrap through
    ``stock_scrap``). Entries already decided, or not held by this excursion, are refused.

    Guarantees: all the entries or none; every stock effect through inventory services.
    """
    if decision not in (RELEASE, SCRAP):
        raise ValidationFailed("Decide release or scrap.", field="decision")
    ids = [entry.pk for entry in entries]
    if not ids:
        raise ValidationFailed("Choose the lots or serials to decide on.", field="entries")
    rows = list(
        ExcursionEntry.objects.select_for_update(of=("self",))
        .filter(excursion=excursion, pk__in=ids)
        .select_related("item", "lot", "serial", "location", "excursion__location")
        .order_by("pk")
    )
    if len(rows) != len(set(ids)):
        raise ValidationFailed("Some of the chosen entries are not this excursion's.", field="entries")
    for row in rows:
        if row.kind != ExcursionEntry.Kind.HELD or row.decision:
            raise ValidationFailed(f"{_label(row)} was not held by this excursion or is decided.", field="entries")
    reason = f"excursion {excursion.pk}: {decision}" + (f" ({note})" if note else "")
    now = timezone.now()
    ExcursionEntry.objects.filter(pk__in=[r.pk for r in rows]).update(
        decision=ExcursionEntry.Decision.RELEASED if decision == RELEASE else ExcursionEntry.Decision.SCRAPPED,
        decided_by=actor_or_none(actor),
        decided_at=now,
        note=note[:500],
    )
    for row in rows:
        if decision == RELEASE:
            _release(row, excursion=excursion, reason=reason, actor=actor)
        else:
            _scrap(row, excursion=excursion, reason=reason, actor=actor)
    return rows


def _label(row: ExcursionEntry) -> str:
    if row.serial is not None:
        return f"Serial {row.serial.serial}"
    return f"Lot {row.lot.code}" if row.lot is not None else row.item.sku


def _held_by(excursion: Excursion, lot: Lot) -> bool:
    """``lot`` is on hold for an excursion and this one may lift it: the hold's reason names
    this excursion, or one that held the lot too and has released it (overlapping excursions:
    the first one's reason stays on the lot). A hold for anything else (a recall, a quality
    hold set since) is not an excursion's to lift."""
    lot.refresh_from_db(fields=["status", "status_reason"])
    if lot.status != Lot.Status.ON_HOLD:
        return False
    match = re.match(r"excursion (\d+):", lot.status_reason)
    if match is None:
        return False
    holder = int(match.group(1))
    if holder == excursion.pk:
        return True
    decisions = set(
        ExcursionEntry.objects.filter(excursion_id=holder, kind=ExcursionEntry.Kind.HELD, lot=lot).values_list(
            "decision", flat=True
        )
    )
    return decisions == {ExcursionEntry.Decision.RELEASED}


def _release(row: ExcursionEntry, *, excursion: Excursion, reason: str, actor: Any) -> None:
    """Lift this excursion's hold of the row's lot or serial, unless something else still holds
    it: another excursion whose entry for it is not decided yet, or a hold that is not an
    excursion's (``_held_by``). The last excursion to release it lifts the hold."""
    lot = row.lot
    if row.serial is not None:
        others = _still_holding(excursion).filter(serial=row.serial).exists()
        if row.prior_status == SerialUnit.Status.IN_STOCK and not others:
            inventory.serial_hold_release(serial=row.serial, reason=reason, actor=actor, force=True)
        # The serials' lot (held with them) is released with its last pending serial here.
        pending = excursion.entries.filter(kind=ExcursionEntry.Kind.HELD, lot=lot, decision="").exists()
        if lot is not None and not pending and not _still_holding(excursion).filter(lot=lot).exists():
            if _held_by(excursion, lot):
                inventory.lot_set_status(lot=lot, status=Lot.Status.AVAILABLE, reason=reason, actor=actor)
        return
    # A lot that was already blocked before the excursion (another hold, a recall) stays so.
    if lot is None or row.prior_status in Lot.BLOCKED:
        return
    if not _still_holding(excursion).filter(lot=lot).exists() and _held_by(excursion, lot):
        inventory.lot_set_status(lot=lot, status=Lot.Status.AVAILABLE, reason=reason, actor=actor)


def _scrap(row: ExcursionEntry, *, excursion: Excursion, reason: str, actor: Any) -> None:
    common = {"reason": reason, "reference": f"EXC-{excursion.pk}", "reference_type": "excursion", "actor": actor}
    if row.serial is not None:
        unit = SerialUnit.objects.select_related("lot", "location").get(pk=row.serial.pk)
        if unit.status not in (SerialUnit.Status.ON_HOLD, SerialUnit.Status.IN_STOCK):
            return  # already gone (shipped, consumed, scrapped): nothing left to scrap
        # Scrapping takes a unit in stock: lift its own hold in the same transaction.
        inventory.serial_hold_release(serial=unit, reason=reason, actor=actor, force=True)
        inventory.stock_scrap(
            item=row.item, quantity=Decimal(1), location=unit.location, lot=unit.lot, serials=[unit.serial], **common
        )
        return
    levels = (
        StockLevel.objects.real()
        .filter(item=row.item, lot=row.lot, location__path__startswith=excursion.location.path, on_hand__gt=0)
        .select_related("location")
        .order_by("location__path", "pk")
    )
    for level in levels:
        inventory.stock_scrap(item=row.item, quantity=level.on_hand, location=level.location, lot=row.lot, **common)
