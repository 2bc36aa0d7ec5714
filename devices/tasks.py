"""Celery tasks of the devices app: thin, idempotent, safe to retry.

``process_reader_upload`` acks late (a worker that dies mid-upload leaves the
message to be redelivered) and is idempotent: the service checks the upload's
status under a row lock, so a redelivery or a concurrent duplicate finds it
processed and does nothing.

The endpoint hands uploads to ``drain_reader_uploads`` through a Redis list
(``devices.upload_queue``), which calls the same service; ``process_reader_upload``
is what the sweeper, the admin's "process again", a database error in a drain, and
the embedded default (no Redis, eager Celery) publish.

Its message is ``(upload id, received_at)``: the upload's partition key lets every
statement read one day's partition of the uploads table (``services.upload_message``).
A message with the id alone (enqueued before messages carried the key) is still
processed: the service looks the key up once.
"""

from __future__ import annotations

import datetime as dt
import uuid

from celery import shared_task
from django.db import InterfaceError, OperationalError

from devices import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=8,
)
def process_reader_upload(upload_id: int, received_at: str | None = None) -> str | None:
    when = dt.datetime.fromisoformat(received_at) if received_at else None
    try:
        upload = services.reader_upload_process(upload_id=upload_id, received_at=when)
    except Exception as exc:
        # Kept on the upload (still queued) so the admin sees why it waits.
        services.reader_upload_note_failure(upload_id=upload_id, received_at=when, error=f"{type(exc).__name__}: {exc}")
        raise
    return upload.status if upload is not None else None


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def drain_reader_uploads(self) -> dict[str, int]:
    """Process the uploads the endpoint handed off (``devices.upload_queue``). Delivered
    again after a lost worker with the same id, it first finishes what it held."""
    from devices.upload_queue import drain

    return drain(drain_id=self.request.id or uuid.uuid4().hex)


@shared_task
def requeue_stale_uploads() -> int:
    return services.reader_uploads_requeue_stale()


@shared_task
def check_devices_silent() -> dict:
    return services.devices_check_silent()


@shared_task
def check_battery_low() -> dict:
    return services.devices_check_battery()


@shared_task
def check_tags_missing() -> dict:
    return services.tags_check_missing()


@shared_task
def archive_uploads() -> dict:
    """Nightly: archive raw uploads past UPLOAD_RETENTION_DAYS (devices.retention)."""
    from devices.retention import uploads_archive

    return uploads_archive()


@shared_task
def resolve_epcis_identifiers() -> int:
    """Identifiers EPCIS capture kept unresolved whose master data has since arrived."""
    from devices.epcis.unresolved import epcis_identifiers_resolve

    return epcis_identifiers_resolve()
