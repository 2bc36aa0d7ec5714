"""Data kept: raw reader uploads are kept ``UPLOAD_RETENTION_DAYS`` (default 30)
and then archived to compressed files (one gzip JSON-lines file per UTC day under
``UPLOAD_ARCHIVE_DIR``) or deleted. Restoring a day puts its rows back.

What this never touches: the stock ledger (moves, levels), tag states, WIP
records and the audit trail. Those are the plant's records; a raw upload is
only the evidence a reader sent, and what it produced is already in them.

Guarantees:

- only finished uploads (processed or rejected) are archived; an upload still
  queued stays, however old, so nothing waiting for the pipeline is lost;
- a row is deleted only after the file holding it has been written, flushed
  to disk and renamed into place (a crash leaves the rows, never a gap);
- archiving is idempotent: a day archived again (an upload finished late)
  merges into the day's file by upload id, never duplicating a row;
- restoring a day inserts the rows that are not in the database (same ids,
  status and result: restored uploads are not processed again).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.models import Device, ReaderUpload, UploadStatus

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
DELETE_BATCH = 500
FIELDS = ("id", "site_id", "device_id", "upload_key", "format", "content_type", "size", "status", "reason", "attempts")


def retention_days() -> int:
    return int(getattr(settings, "UPLOAD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def archive_dir() -> Path:
    configured = getattr(settings, "UPLOAD_ARCHIVE_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR) / "var" / "upload-archive"


def day_file(day: dt.date, folder: Path | None = None) -> Path:
    return (folder or archive_dir()) / f"uploads-{day.isoformat()}.jsonl.gz"


def cutoff(*, days: int | None = None, now: dt.datetime | None = None) -> dt.datetime:
    """Start of the UTC day ``days`` days ago: whole days are archived, never half of one."""
    now = now or timezone.now()
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=retention_days() if days is None else days)).date()
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _expired(before: dt.datetime):
    return ReaderUpload.objects.filter(
        received_at__lt=before, status__in=[UploadStatus.PROCESSED, UploadStatus.REJECTED]
    )


def _row(upload: ReaderUpload, device_code: str) -> dict[str, Any]:
    row = {name: getattr(upload, name) for name in FIELDS}
    row["device"] = device_code  # for people reading the file; the restore uses device_id
    row["received_at"] = upload.received_at.isoformat()
    row["processed_at"] = upload.processed_at.isoformat() if upload.processed_at else None
    row["result"] = upload.result
    row["body_b64"] = base64.b64encode(bytes(upload.body)).decode("ascii")
    return row


def _read(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _write_day(day: dt.date, ids: list[int], folder: Path) -> None:
    """Write the day's file: rows already archived (minus these ids) plus these rows."""
    folder.mkdir(parents=True, exist_ok=True)
    target = day_file(day, folder)
    tmp = target.with_suffix(".tmp")
    wanted = set(ids)
    devices = dict(Device.objects.filter(uploads__pk__in=ids).distinct().values_list("pk", "device_id"))
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        if target.exists():
            for row in _read(target):
                if row["id"] not in wanted:
                    out.write(json.dumps(row, separators=(",", ":")) + "\n")
        for upload in ReaderUpload.objects.filter(pk__in=ids).order_by("received_at", "pk").iterator(chunk_size=200):
            out.write(json.dumps(_row(upload, devices.get(upload.device_id, "")), separators=(",", ":")) + "\n")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def uploads_archive(
    *,
    days: int | None = None,
    delete_only: bool = False,
    now: dt.datetime | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Archive (or with ``delete_only`` just delete) the finished uploads received
    before the start of the UTC day ``days`` (default ``UPLOAD_RETENTION_DAYS``) ago.

    Returns {"days": [iso dates], "archived": n, "deleted": n}.
    """
    before = cutoff(days=days, now=now)
    folder = folder or archive_dir()
    summary: dict[str, Any] = {"days": [], "archived": 0, "deleted": 0, "before": before.isoformat()}
    for day_start in _expired(before).datetimes("received_at", "day", tzinfo=dt.UTC):
        day = day_start.date()
        ids = list(
            _expired(before)
            .filter(received_at__gte=day_start, received_at__lt=day_start + dt.timedelta(days=1))
            .values_list("pk", flat=True)
        )
        if not ids:
            continue
        if not delete_only:
            _write_day(day, ids, folder)
            summary["archived"] += len(ids)
        for start in range(0, len(ids), DELETE_BATCH):
            with transaction.atomic():
                # Status checked again: rows are only ever finished here, but a
                # restore racing an archive must not lose a row it just wrote.
                deleted, _ = _expired(before).filter(pk__in=ids[start : start + DELETE_BATCH]).delete()
            summary["deleted"] += deleted
        summary["days"].append(day.isoformat())
    logger.info(
        "uploads archived", extra={"event": "uploads.archived", **{k: v for k, v in summary.items() if k != "days"}}
    )
    return summary


def uploads_restore(*, day: dt.date, folder: Path | None = None) -> dict[str, int]:
    """Insert the rows of ``day``'s archive that are not in the database.

    Returns {"restored": n, "present": n (already there), "skipped": n (their
    device no longer exists)}. Raises FileNotFoundError if the day has no archive.
    """
    path = day_file(day, folder)
    if not path.exists():
        raise FileNotFoundError(f"No archive for {day.isoformat()} at {path}.")
    counts = {"restored": 0, "present": 0, "skipped": 0}
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        ids = [r["id"] for r in batch]
        present = set(ReaderUpload.objects.filter(pk__in=ids).values_list("pk", flat=True))
        device_ids = {r["device_id"] for r in batch}
        devices = set(Device.objects.filter(pk__in=device_ids).values_list("pk", flat=True))
        rows = []
        for r in batch:
            if r["id"] in present:
                counts["present"] += 1
            elif r["device_id"] not in devices:
                counts["skipped"] += 1
            else:
                rows.append(
                    ReaderUpload(
                        **{name: r[name] for name in FIELDS},
                        result=r.get("result") or {},
                        body=base64.b64decode(r["body_b64"]),
                        received_at=dt.datetime.fromisoformat(r["received_at"]),
                        processed_at=dt.datetime.fromisoformat(r["processed_at"]) if r.get("processed_at") else None,
                    )
                )
        with transaction.atomic():
            # ignore_conflicts: a row restored by a concurrent run (same id) is not an error.
            ReaderUpload.objects.bulk_create(rows, ignore_conflicts=True)
        counts["restored"] += len(rows)
        batch.clear()

    for row in _read(path):
        batch.append(row)
        if len(batch) >= DELETE_BATCH:
            flush()
    if batch:
        flush()
    _reset_sequence()
    return counts


def _reset_sequence() -> None:
    """Rows inserted with explicit ids: move PostgreSQL's id sequence past them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    table = ReaderUpload._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        if not sequence:
            return
        # Never move the sequence back: only past the highest id restored.
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - table name from the model
        highest = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value FROM {sequence}")  # noqa: S608 - name from pg_get_serial_sequence
        if highest > cursor.fetchone()[0]:
            cursor.execute("SELECT setval(%s, %s)", [sequence, highest])
