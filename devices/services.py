"""Writes of the devices app: device keys, tag assignments, receiving and
processing reader uploads; the periodic health checks (``devices.health_checks``)
are re-exported here."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from devices import upload_queue
from devices.conf import site_settings
from devices.errors import EmptyUpload, NoUploadFormat, TagAlreadyAssigned, UploadTooLarge
from devices.gs1 import ensure_company_prefixes
from devices.health_checks import (  # re-exported: the tasks and callers keep importing them from here
    devices_check_battery as devices_check_battery,
)
from devices.health_checks import devices_check_silent as devices_check_silent
from devices.health_checks import tags_check_missing as tags_check_missing
from devices.models import (
    Device,
    DeviceKey,
    ReaderUpload,
    Tag,
    TagAssignment,
    TargetKind,
    UnknownTag,
    UploadStatus,
    tag_kind_of,
)
from devices.parsers import ParseError, parse
from devices.upload_keys import upload_key_for
from tracker.audit import audit_record
from tracker.errors import ValidationFailed
from tracker.keys import generate_key
from tracker.models import Site
from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.sqlrows import save_params
from tracker.transactions import service_atomic

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
KEY_KIND = "sfd"


# --------------------------------------------------------------------------- keys


@service_atomic
def device_key_create(
    *, device: Device, name: str = "", expires_at: dt.datetime | None = None, created_by: Any = None
) -> tuple[DeviceKey, str]:
    """Create a key for ``device``; returns (row, secret). The secret is not stored
    (only its SHA-256) and cannot be shown again."""
    full, prefix, hashed = generate_key(KEY_KIND)
    key = DeviceKey.objects.create(
        device=device,
        name=name,
        prefix=prefix,
        hashed_key=hashed,
        expires_at=expires_at,
        created_by=actor_or_none(created_by),
    )
    audit_record(
        actor=created_by, action="devicekey.created", obj=key, site=device.site, changes={"device": device.device_id}
    )
    return key, full


@service_atomic
def device_key_revoke(*, key: DeviceKey, revoked_by: Any = None) -> DeviceKey:
    """Revoke a key: it is refused from the next request on, on every node (saving it
    bumps the device auth epoch, ``devices.key_signals``). Idempotent."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=revoked_by, action="devicekey.revoked", obj=key, site=key.device.site)
    return key


@service_atomic
def device_key_rotate(*, key: DeviceKey, rotated_by: Any = None) -> tuple[DeviceKey, str]:
    """Replace a key: a new one for the same device (same name and expiry) is returned
    with its secret, and the old one is revoked in the same transaction, refused from
    the next request on."""
    new, secret = device_key_create(device=key.device, name=key.name, expires_at=key.expires_at, created_by=rotated_by)
    device_key_revoke(key=key, revoked_by=rotated_by)
    return new, secret


@service_atomic
def device_deactivate(*, device: Device, actor: Any = None) -> Device:
    """Deactivate a device: its keys are refused from the next request on, on every node
    (saving it bumps the device auth epoch). Idempotent."""
    if device.active:
        device.active = False
        device.save(update_fields=["active"])
        audit_record(actor=actor, action="device.deactivated", obj=device, site=device.site)
    return device


# --------------------------------------------------------------------------- tags


@service_atomic
def tag_assign(
    *,
    site: Site,
    tag_id: str,
    target_kind: str,
    serial: Any = None,
    lot: Any = None,
    work_order: Any = None,
    code: str = "",
    valid_from: dt.datetime | None = None,
    replace: bool = True,
    actor: Any = None,
    note: str = "",
) -> TagAssignment:
    """Assign a tag to what it tracks from ``valid_from`` (default now).

    The current assignment, if any, is closed at the same instant (its history
    is kept) unless ``replace`` is False, which refuses with
    ``tag_already_assigned``. The tag stops being unknown.
    """
    if target_kind not in TargetKind.values:
        raise ValidationFailed(f"Unknown target kind {target_kind!r}.", field="target_kind")
    required: dict[str, Any] = {TargetKind.SERIAL: serial, TargetKind.LOT: lot, TargetKind.WORK_ORDER: work_order}
    if target_kind in required:
        if required[target_kind] is None:
            raise ValidationFailed(f"A {target_kind} assignment needs its {target_kind}.", field=target_kind)
        obj = required[target_kind]
        if target_kind == TargetKind.LOT:
            from devices.targets import lot_is_at_site

            elsewhere = not lot_is_at_site(obj, site.pk)
        else:
            obj_site = _site_of(obj)
            elsewhere = obj_site is not None and obj_site != site.pk
        if elsewhere:
            raise ValidationFailed(f"That {target_kind} belongs to another site.", field=target_kind)
    elif not code.strip():
        raise ValidationFailed(f"A {target_kind} assignment needs a code.", field="code")
    tag_id = tag_id.strip()
    if not tag_id:
        raise ValidationFailed("A tag id is required.", field="tag_id")
    tag, _ = Tag.objects.get_or_create(site=site, tag_id=tag_id, defaults={"kind": tag_kind_of(tag_id)})
    now = valid_from or timezone.now()
    current = TagAssignment.objects.select_for_update().filter(tag=tag, valid_to__isnull=True).first()
    if current is not None:
        if not replace:
            raise TagAlreadyAssigned(f"Tag {tag_id} is assigned to {current.target_kind} already.", field="tag_id")
        current.valid_to = max(now, current.valid_from)
        current.save(update_fields=["valid_to"])
    fields: dict[str, Any] = {"code": code.strip()}
    if target_kind == TargetKind.SERIAL:
        fields["serial"] = serial
    elif target_kind == TargetKind.LOT:
        fields["lot"] = lot
    elif target_kind == TargetKind.WORK_ORDER:
        fields["work_order"] = work_order
    assignment = TagAssignment.objects.create(
        tag=tag,
        target_kind=target_kind,
        valid_from=now,
        note=note,
        assigned_by=actor_or_none(actor),
        **fields,
    )
    UnknownTag.objects.filter(tag=tag).delete()
    audit_record(
        actor=actor,
        action="tag.assigned",
        obj=assignment,
        site=site,
        changes={"tag": tag_id, "target": target_kind, "code": code},
    )
    return assignment


@service_atomic
def _site_of(obj: Any) -> int | None:
    for path in ("site_id", "item__site_id", "location__site_id"):
        value = obj
        for part in path.split("__"):
            value = getattr(value, part, None)
            if value is None:
                break
        if value is not None:
            site_id: int = value
            return site_id
    return None


# --------------------------------------------------------------------------- uploads


def reader_upload_receive(
    *, device: Device, body: bytes, content_type: str = "", upload_key: str | None = None
) -> tuple[ReaderUpload, bool]:
    """Store an upload exactly as received and hand it to the ingest worker after commit
    (``devices.upload_queue``).

    Returns (upload, created). A retry (same device and upload key: the explicit
    key, the envelope's id or sequence, else the body's SHA-256) returns the
    original upload, never a second one, also under concurrent retries.
    """
    if not body:
        raise EmptyUpload("The upload is empty.")
    if len(body) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(f"The upload is {len(body)} bytes; the limit is {MAX_UPLOAD_BYTES} bytes.")
    if not device.upload_format:
        raise NoUploadFormat(f"Device {device.device_id} has no upload format; ask an admin to set one.")
    key = upload_key_for(upload_format=device.upload_format, body=body, explicit=upload_key)
    upload = ReaderUpload(
        site_id=device.site_id,
        device=device,
        upload_key=key,
        format=device.upload_format,
        body=body,
        content_type=content_type[:100],
        size=len(body),
        received_at=timezone.now(),
    )
    if not _insert_unless_stored(upload):
        # A retry (or a concurrent one that committed first): the original answers.
        return ReaderUpload.objects.only("pk", "status").get(device=device, upload_key=key), False
    transaction.on_commit(functools.partial(upload_queue.hand_off, upload.pk, upload.received_at))
    return upload, True


def _insert_unless_stored(upload: ReaderUpload) -> bool:
    """Insert ``upload`` unless its (device, upload key) is stored; True (and its pk set) if inserted.

    One ``INSERT ... SELECT ... WHERE NOT EXISTS ... ON CONFLICT DO NOTHING RETURNING``
    (PostgreSQL and SQLite), in the caller's transaction or on its own: no separate look-up,
    no transaction or savepoint around it.

    * ``NOT EXISTS`` finds a retry stored earlier, in any partition: on PostgreSQL the
      uploads table is partitioned by day (README "Partitioned history"), so its unique
      (device, upload key) index is one per day's partition and cannot see yesterday's row.
    * ``ON CONFLICT DO NOTHING`` (no conflict target: a partitioned table has no table-wide
      unique constraint to name) settles concurrent retries: the second waits on the
      partition's unique index until the first ends, then does nothing (it committed) or
      inserts (it rolled back)."""
    fields, sql = _insert_statement(connection.vendor)
    params = save_params(fields, [[getattr(upload, f.attname) for f in fields]])
    params += [upload.device_id, upload.upload_key]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    upload.pk = row[0]
    upload._state.adding = False
    upload._state.db = connection.alias
    return True


@functools.cache
def _insert_statement(vendor: str) -> tuple[list[Any], str]:
    """The upload's fields and ``_insert_unless_stored``'s statement, built once per database vendor."""
    fields = [f for f in ReaderUpload._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    table = q(ReaderUpload._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(q(f.column or f.attname) for f in fields)}) "  # noqa: S608 - names from the model
        f"SELECT {', '.join(['%s'] * len(fields))} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {q('device_id')} = %s AND {q('upload_key')} = %s) "
        f"ON CONFLICT DO NOTHING RETURNING {q('id')}"
    )
    return fields, sql


def _enqueue(upload_id: int, received_at: dt.datetime | None = None) -> None:
    from devices.tasks import process_reader_upload

    try:
        process_reader_upload.delay(*upload_message(upload_id, received_at))
    except Exception:  # the broker is down: the periodic re-enqueue picks the upload up
        logger.exception("could not enqueue upload %s; it stays queued", upload_id)


def upload_message(upload_id: int, received_at: dt.datetime | None) -> tuple[Any, ...]:
    """The arguments of the processing task's message: the upload's id and its partition key.

    The uploads table is partitioned by ``received_at`` on PostgreSQL, with one index per
    day's partition: a look-up by id alone probes (and the planner opens) every partition,
    one that also names ``received_at`` reads one. ISO 8601, so the message stays JSON."""
    if received_at is None:
        return (upload_id,)
    return (upload_id, received_at.isoformat())


def _upload_row(upload_id: int, received_at: dt.datetime | None) -> Any:
    """The filter that finds one upload: by id and, when known, its partition key (pruned)."""
    if received_at is None:
        return ReaderUpload.objects.filter(pk=upload_id)
    return ReaderUpload.objects.filter(pk=upload_id, received_at=received_at)


def _received_at_of(upload_id: int) -> dt.datetime | None:
    """The partition key of an upload named by id only (a message enqueued before messages
    carried it): one look-up across the partitions, after which every statement is pruned."""
    found: dt.datetime | None = ReaderUpload.objects.filter(pk=upload_id).values_list("received_at", flat=True).first()
    return found


def reader_upload_process(*, upload_id: int, received_at: dt.datetime | None = None) -> ReaderUpload | None:
    """Process a stored upload: parse, arbitrate, call the owning services.

    Guarantees: all effects of the upload commit together or not at all; an
    upload is processed once (its status is checked under a row lock, so a
    retried or duplicated task finds it done); a body that cannot be parsed
    marks the upload rejected with the reason and changes nothing else.

    ``received_at`` (the upload's partition key, carried by the task's message) lets
    every statement read one day's partition; without it the upload is looked up once
    by id. A ``received_at`` that names no upload with this id (the row was moved: the
    partition key is never updated in normal operation) falls back to the id alone, that
    attempt uncounted.
    """
    if received_at is None:
        received_at = _received_at_of(upload_id)
        if received_at is None:
            return None  # no such upload (archived, or never committed)
    _count_attempt(upload_id, received_at)
    return _process(upload_id, received_at)


def _count_attempt(upload_id: int, received_at: dt.datetime) -> None:
    """Count the attempt in its own small transaction, so a worker that dies mid-upload
    still counts (an upload that kills every worker ends rejected, not retried forever)."""
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            # Losing this counter in a database crash is harmless: do not wait for the WAL flush.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        _upload_row(upload_id, received_at).filter(status=UploadStatus.QUEUED).update(attempts=F("attempts") + 1)


@service_atomic
def _process(upload_id: int, received_at: dt.datetime) -> ReaderUpload | None:
    from devices.pipeline.ingest import ingest

    def locked(rows: Any) -> ReaderUpload | None:
        found: ReaderUpload | None = rows.select_for_update(of=("self",)).select_related("device__site").first()
        return found

    upload = locked(_upload_row(upload_id, received_at))
    if upload is None:
        upload = locked(_upload_row(upload_id, None))  # the message's partition key is stale
    if upload is None or upload.status != UploadStatus.QUEUED:
        return upload
    conf = site_settings(upload.device.site)
    if upload.attempts > conf["max_attempts"]:
        return _reject(upload, f"gave up after {upload.attempts - 1} failed attempts: {upload.reason or 'no reason'}")
    ensure_company_prefixes(conf.get("gs1_company_prefixes") or ())
    try:
        parsed = parse(
            upload.format or upload.device.upload_format,
            bytes(upload.body),
            content_type=upload.content_type,
            received_at=upload.received_at,
        )
    except ParseError as exc:
        return _reject(upload, exc.reason)
    upload.result = ingest(upload=upload, parsed=parsed)
    upload.status = UploadStatus.PROCESSED
    upload.reason = ""
    upload.processed_at = timezone.now()
    _save_outcome(upload)
    return upload


def _save_outcome(upload: ReaderUpload) -> None:
    """Write the outcome with the partition key in the WHERE clause (``save()`` would
    update by id alone, through every partition's index)."""
    _upload_row(upload.pk, upload.received_at).update(
        status=upload.status, reason=upload.reason, result=upload.result, processed_at=upload.processed_at
    )


def _reject(upload: ReaderUpload, reason: str) -> ReaderUpload:
    upload.status = UploadStatus.REJECTED
    upload.reason = reason[:2000]
    upload.processed_at = timezone.now()
    upload.result = {}
    _save_outcome(upload)
    broadcast(
        site_id=upload.site_id,
        type="device.status",
        data={
            "device": {"device_id": upload.device.device_id},
            "upload": {"id": upload.pk, "status": "rejected", "reason": upload.reason[:200]},
        },
    )
    return upload


def reader_upload_note_failure(*, upload_id: int, error: str, received_at: dt.datetime | None = None) -> None:
    """Remember why an attempt failed (the upload stays queued for a retry)."""
    _upload_row(upload_id, received_at).filter(status=UploadStatus.QUEUED).update(reason=error[:2000])


def reader_uploads_requeue_stale(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Enqueue again the uploads stored but never processed (the broker was down or
    a worker died). Returns how many were enqueued."""
    now = now or timezone.now()
    count = 0
    stale_by_site: dict[int, int] = {}
    for site in Site.objects.only("pk", "settings"):
        stale_by_site[site.pk] = site_settings(site)["stale_upload_s"]
    if not stale_by_site:
        return 0
    oldest = now - dt.timedelta(seconds=min(stale_by_site.values()))
    candidates = (
        ReaderUpload.objects.filter(status=UploadStatus.QUEUED, received_at__lt=oldest)
        .order_by("received_at")
        .values_list("pk", "site_id", "received_at")[:limit]
    )
    for pk, site_id, received_at in candidates:
        if received_at < now - dt.timedelta(seconds=stale_by_site.get(site_id, 120)):
            _enqueue(pk, received_at)
            count += 1
    return count
