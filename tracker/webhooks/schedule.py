"""Beat entries of the webhooks app (merged through tracker/schedule.py)."""

BEAT_SCHEDULE = {
    "webhooks-sweep": {
        "task": "webhooks.sweep",
        # Retry delays start at ~10 s: a 15 s sweep keeps them roughly on time.
        "schedule": 15.0,
        "options": {"expires": 14},
    },
}
