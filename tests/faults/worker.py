"""A Celery worker for the fault tests, with fault hooks inside the pipeline.

Run as ``python -m tests.faults.worker`` with REDIS_URL (the private broker) and
DATABASE_URL (the test database). Hooks, armed by files the test creates:

- FAULT_SLEEP_FILE: the first task to reach the tag-state write marks the file
  "sleeping" and sleeps (the test then kills the worker with SIGKILL);
- FAULT_DROP_FILE: the first task to reach the tag-state write has its own
  database connection terminated (pg_terminate_backend from a side connection)
  and carries on into the dead connection.

Each hook fires once (it renames its file), so the retry runs clean.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _install_hooks() -> None:
    from django.db import connection

    from devices.pipeline import store

    real = store.write_states

    def hooked(**kwargs):
        sleep_file = os.environ.get("FAULT_SLEEP_FILE")
        if sleep_file and Path(sleep_file).exists():
            Path(sleep_file).rename(sleep_file + ".sleeping")
            time.sleep(120)
        drop_file = os.environ.get("FAULT_DROP_FILE")
        if drop_file and Path(drop_file).exists():
            Path(drop_file).rename(drop_file + ".dropped")
            import psycopg

            pid = connection.connection.info.backend_pid
            settings = connection.settings_dict
            with psycopg.connect(
                host=settings["HOST"],
                port=settings["PORT"] or 5432,
                user=settings["USER"],
                password=settings["PASSWORD"] or None,
                dbname=settings["NAME"],
                autocommit=True,
            ) as side:
                side.execute("SELECT pg_terminate_backend(%s)", [pid])
        return real(**kwargs)

    store.write_states = hooked


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    _install_hooks()
    from config.celery import app

    app.conf.worker_hijack_root_logger = False
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
            *sys.argv[1:],
        ]
    )


if __name__ == "__main__":
    main()
