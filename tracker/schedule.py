"""Beat entries of the core (merged by config/celery.py)."""

from tracker.webhooks.schedule import BEAT_SCHEDULE as _WEBHOOKS

BEAT_SCHEDULE = {**_WEBHOOKS}
