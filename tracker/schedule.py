"""Beat entries of the core (merged by config/celery.py)."""

from tracker.webhooks.schedule import BEAT_SCHEDULE as _WEBHOOKS

BEAT_SCHEDULE = {
    **_WEBHOOKS,
    "idempotency-purge": {
        "task": "tracker.idempotency_purge",
        # The TTL is hours long; purging hourly keeps the table within an hour of it.
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
