"""Periodic tasks of the devices app (merged into Celery beat by config/celery.py)."""

from __future__ import annotations

BEAT_SCHEDULE = {
    "devices.requeue_stale_uploads": {"task": "devices.tasks.requeue_stale_uploads", "schedule": 60.0},
    "devices.check_devices_silent": {"task": "devices.tasks.check_devices_silent", "schedule": 60.0},
    "devices.check_tags_missing": {"task": "devices.tasks.check_tags_missing", "schedule": 60.0},
    "devices.check_battery_low": {"task": "devices.tasks.check_battery_low", "schedule": 900.0},
}
