"""Writes of the core: sites, locations, access, alerts and API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from tracker.audit import audit_record
from tracker.bound_cursor import bound_cursor
from tracker.errors import Conflict, ValidationFailed
from tracker.keys import generate_key
from tracker.models import (
    VIRTUAL_KINDS,
    Alert,
    ApiKey,
    ApiKeyScope,
    Location,
    LocationKind,
    Severity,
    Site,
)
from tracker.realtime import broadcast
from tracker.scoping import SITE_ACCESS_CODENAME, forget_site_ids
from tracker.sqlrows import rows_of
from tracker.transactions import service_atomic

VIRTUAL_LOCATION_CODES = {
    LocationKind.SUPPLIER: "SUPPLIER",
    LocationKind.CUSTOMER: "CUSTOMER",
    LocationKind.PRODUCTION: "WIP",
    LocationKind.SCRAP: "SCRAP",
    LocationKind.ADJUSTMENT: "ADJUST",
    LocationKind.TRANSIT: "TRANSIT",
}


@service_atomic
def site_create(*, code: str, name: str, time_zone: str = "UTC", settings: dict | None = None) -> Site:
    """Create a site with its virtual ledger locations (supplier, customer,
    production/WIP, scrap, adjustment, in transit), all or nothing."""
    if Site.objects.filter(code=code).exists():
        raise Conflict(f"Site {code!r} already exists.", code="duplicate", field="code")
    site = Site.objects.create(code=code, name=name, time_zone=time_zone, settings=settings or {})
    for kind in VIRTUAL_KINDS:
        Location.objects.create(
            site=site,
            code=f"{code.upper()}-{VIRTUAL_LOCATION_CODES[kind]}",
            name=f"{site.name}: {LocationKind(kind).label}",
            kind=kind,
        )
    return site


def virtual_location(*, site: Site | int, kind: str) -> Location:
    """The site's virtual location of ``kind`` (one per kind per site); ``Location.DoesNotExist``
    when the site has none, as ``Location.objects.get`` would.

    Plain SQL: every receipt, issue and scrap looks one up, and building the ORM's query
    cost several times running it."""
    site_id = site if isinstance(site, int) else site.pk
    rows = rows_of(Location)
    q = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(rows.quoted)} FROM {rows.table} "  # noqa: S608 - names from the model; values are parameters
        f"WHERE {q('site_id')} = %s AND {q('kind')} = %s LIMIT 2"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [site_id, kind])
        found = cursor.fetchall()
    if not found:
        raise Location.DoesNotExist(f"Site {site_id} has no {kind} location.")
    if len(found) > 1:
        raise Location.MultipleObjectsReturned(f"Site {site_id} has more than one {kind} location.")
    return rows.instance(found[0])


@service_atomic
def location_create(
    *, site: Site, code: str, name: str, kind: str, parent: Location | None = None, gln: str = ""
) -> Location:
    """Add a real location under ``parent`` (same site); codes are unique everywhere."""
    if kind in VIRTUAL_KINDS:
        raise ValidationFailed("Virtual locations are created with their site.", field="kind")
    if kind not in LocationKind.values:
        raise ValidationFailed(f"Unknown location kind {kind!r}.", field="kind")
    if parent is not None and parent.site_id != site.pk:
        raise ValidationFailed("The parent location belongs to another site.", field="parent")
    if parent is not None and parent.is_virtual:
        raise ValidationFailed("A virtual location cannot have children.", field="parent")
    if Location.objects.filter(code=code).exists():
        raise Conflict(f"Location code {code!r} is taken.", code="duplicate", field="code")
    try:
        with transaction.atomic():
            return Location.objects.create(site=site, parent=parent, code=code, name=name, kind=kind, gln=gln)
    except IntegrityError as exc:
        raise Conflict(f"Location code {code!r} is taken.", code="duplicate", field="code") from exc


@service_atomic
def location_move(*, location: Location, new_parent: Location | None) -> Location:
    """Re-parent a location, rewriting the materialised path of its whole subtree."""
    if new_parent is not None:
        if new_parent.site_id != location.site_id:
            raise ValidationFailed("Cannot move a location to another site.", field="parent")
        if new_parent.path.startswith(location.path):
            raise ValidationFailed("Cannot move a location under itself.", field="parent")
    old_path = location.path
    location.parent = new_parent
    location.save()
    location.refresh_from_db()
    for child in Location.objects.filter(path__startswith=old_path).exclude(pk=location.pk).order_by("depth"):
        child.save()  # recomputes path from its (already updated) parent
    return location


def site_grant_access(*, site: Site, user: AbstractBaseUser | None = None, group: Group | None = None) -> None:
    """Let a user (or every member of a group) see ``site``."""
    assign_perm(f"tracker.{SITE_ACCESS_CODENAME}", user or group, site)
    forget_site_ids(user)


def site_revoke_access(*, site: Site, user: AbstractBaseUser | None = None, group: Group | None = None) -> None:
    remove_perm(f"tracker.{SITE_ACCESS_CODENAME}", user or group, site)
    forget_site_ids(user)


def _alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "severity": alert.severity,
            "subject": alert.subject,
            "message": alert.message,
            "raised_at": alert.raised_at.isoformat(),
            "acknowledged": alert.acknowledged_at is not None,
        }
    }


@service_atomic
def alert_raise(
    *,
    site: Site | int,
    kind: str,
    subject: str,
    message: str,
    severity: str = Severity.WARNING,
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert, or update the open one for the same (site, kind, subject).

    Guarantees one open alert per subject even under concurrent raisers (a
    partial unique constraint backs it). Returns (alert, created).
    """
    site_id = site if isinstance(site, int) else site.pk
    now = at or timezone.now()
    existing = (
        Alert.objects.select_for_update()
        .filter(site_id=site_id, kind=kind, subject=subject, cleared_at__isnull=True)
        .first()
    )
    if existing is not None:
        Alert.objects.filter(pk=existing.pk).update(
            message=message, severity=severity, data=data or {}, occurrences=F("occurrences") + 1, updated_at=now
        )
        existing.refresh_from_db()
        return existing, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                site_id=site_id,
                kind=kind,
                subject=subject,
                message=message,
                severity=severity,
                data=data or {},
                raised_at=now,
            )
    except IntegrityError:
        # Another transaction raised it first: that one is the open alert.
        alert = Alert.objects.get(site_id=site_id, kind=kind, subject=subject, cleared_at__isnull=True)
        return alert, False
    broadcast(site_id=site_id, type="alert.raised", data=_alert_payload(alert), occurred_at=now)
    return alert, True


@service_atomic
def alert_clear(*, site: Site | int, kind: str, subject: str, at: dt.datetime | None = None) -> Alert | None:
    """Clear the open alert for (site, kind, subject), if there is one."""
    site_id = site if isinstance(site, int) else site.pk
    alert = (
        Alert.objects.select_for_update()
        .filter(site_id=site_id, kind=kind, subject=subject, cleared_at__isnull=True)
        .first()
    )
    if alert is None:
        return None
    alert.cleared_at = at or timezone.now()
    alert.save(update_fields=["cleared_at", "updated_at"])
    broadcast(site_id=site_id, type="alert.cleared", data=_alert_payload(alert), occurred_at=alert.cleared_at)
    return alert


@service_atomic
def alert_acknowledge(*, alert: Alert, user: User) -> Alert:
    """Record that ``user`` has seen the alert (idempotent; audited once)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
        audit_record(actor=user, action="alert.acknowledged", obj=alert, site=alert.site)
        broadcast(site_id=alert.site_id, type="alert.acknowledged", data=_alert_payload(alert))
    return alert


@service_atomic
def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str] | None = None,
    sites: list[Site] | None = None,
    expires_at: dt.datetime | None = None,
    created_by: AbstractBaseUser | None = None,
) -> tuple[ApiKey, str]:
    """Create a partner key; returns (key row, the secret, shown this once only).

    ``scopes`` must be ``ApiKeyScope`` values; ``sites`` limits the key to
    those sites (none: every site its user holds)."""
    unknown = sorted(set(scopes or ()) - set(ApiKeyScope.values))
    if unknown:
        raise ValidationFailed(f"Unknown scopes {unknown}.", field="scopes")
    full, prefix, hashed = generate_key("sfk")
    key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        hashed_key=hashed,
        scopes=sorted(set(scopes or ())),
        expires_at=expires_at,
    )
    if sites:
        key.sites.set(sites)
    audit_record(
        actor=created_by,
        action="apikey.created",
        obj=key,
        changes={"user": user.get_username(), "scopes": key.scopes, "sites": sorted(s.code for s in sites or ())},
    )
    return key, full


@service_atomic
def api_key_revoke(*, key: ApiKey, revoked_by: AbstractBaseUser | None = None) -> ApiKey:
    """Revoke a key; it stops authenticating at once."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=revoked_by, action="apikey.revoked", obj=key)
    return key


def idempotency_records_purge(*, now: dt.datetime | None = None, batch: int = 5000) -> int:
    """Delete Idempotency-Key records older than ``SHOPFLOOR["IDEMPOTENCY_TTL_HOURS"]``.

    Guarantees: a record younger than the TTL is never deleted, so a retry within
    the TTL still replays its first answer; after the TTL the same key is a new
    request. Deletes in batches of ``batch`` rows (each its own statement) so a
    long backlog does not hold one long transaction. Returns the rows deleted.
    """
    from django.conf import settings

    from tracker.models import IdempotencyRecord

    ttl = dt.timedelta(hours=settings.SHOPFLOOR["IDEMPOTENCY_TTL_HOURS"])
    cutoff = (now or timezone.now()) - ttl
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
