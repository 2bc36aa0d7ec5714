"""Periodic tasks of the devices app (merged into Celery beat by config/celery.py)."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "devices.requeue_stale_uploads": {"task": "devices.tasks.requeue_stale_uploads", "schedule": 60.0},
    "devices.check_devices_silent": {"task": "devices.tasks.check_devices_silent", "schedule": 60.0},
    "devices.check_tags_missing": {"task": "devices.tasks.check_tags_missing", "schedule": 60.0},
    "devices.check_battery_low": {"task": "devices.tasks.check_battery_low", "schedule": 900.0},
    # Identifiers EPCIS capture recorded unresolved, once their items / locations exist.
    "devices.resolve_epcis_identifiers": {"task": "devices.tasks.resolve_epcis_identifiers", "schedule": 300.0},
    # Nightly, off shift: raw uploads past UPLOAD_RETENTION_DAYS go to gzip files (devices.retention).
    "devices.archive_uploads": {"task": "devices.tasks.archive_uploads", "schedule": crontab(hour=2, minute=40)},
}
