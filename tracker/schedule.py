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
    "history-partitions-maintain": {
        "task": "tracker.history_partitions_maintain",
        # Hourly, though partitions are made days ahead: a missed run or a restarted beat
        # never leaves a table without the partition for the next day.
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
