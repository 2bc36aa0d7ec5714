"""The Celery app. With REDIS_URL unset, tasks run eagerly in-process.

Each app may declare periodic tasks as ``BEAT_SCHEDULE`` in ``<app>/schedule.py``;
they are merged here so beat needs no central list.
"""

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shopfloor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _merge_app_schedules(sender, **kwargs):
    from django.conf import settings

    schedule = dict(settings.CELERY_BEAT_SCHEDULE)
    for label in ("tracker", "inventory", "wip", "devices"):
        try:
            module = importlib.import_module(f"{label}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{label}.schedule":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = schedule
