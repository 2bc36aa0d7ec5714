"""Periodic WIP checks (merged into beat by config/celery.py)."""

BEAT_SCHEDULE = {
    "wip-check-overtime": {"task": "wip.tasks.check_overtime", "schedule": 60.0},
    "wip-check-wip-limits": {"task": "wip.tasks.check_wip_limits", "schedule": 60.0},
    "wip-check-late-orders": {"task": "wip.tasks.check_late_orders", "schedule": 300.0},
}
