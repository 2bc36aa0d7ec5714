"""``python -m bench handoff``: uploads through a real ingest worker, handed off two ways.

The endpoint hands a stored upload to the worker through a Redis list drained by a
task (``devices.upload_queue``); before, it published one Celery task per upload
(``process_reader_upload``), as the sweeper and the embedded default still do. This
benchmark drives both through the same worker, alternating, on one plant:

1. a fresh PostgreSQL database ``shopfloor_bench_handoff`` (``--database``) and Redis
   (``BENCH_REDIS_URL``, default db 9, flushed), migrated; in a child process with the
   production settings, the ingestion benchmark's synthetic plant (``bench/ingest/plant.py``)
   and ``--uploads`` stored uploads;
2. ``celery worker -Q ingest`` with ``--concurrency`` processes, started once;
3. ``--rounds`` rounds of two batches: one with a task per upload (``delay()`` with the
   upload's message), one through ``upload_queue.hand_off`` (what the endpoint calls after
   commit); each batch timed from its first hand-off until every upload in it is processed,
   with the worker's CPU (the Celery processes, from /proc) and PostgreSQL's.

It prints uploads per second and CPU ms per upload for each way, and the drain's figures as
multiples of the per-upload tasks' in the same run; the JSON goes to ``.bench/handoff-<time>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench import dbs

BENCH_DB = "shopfloor_bench_handoff"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
WAYS = ("tasks", "drain")


class Command(BaseCommand):
    help = "Uploads through a real ingest worker: a Celery task per upload against the drained hand-off."

    def add_arguments(self, parser):
        parser.add_argument("--uploads", type=int, default=400, help="Uploads in all (split over the batches).")
        parser.add_argument("--rounds", type=int, default=2, help="Rounds of one batch each way.")
        parser.add_argument("--tags", type=int, default=1000)
        parser.add_argument("--concurrency", type=int, default=2, help="The worker's processes.")
        parser.add_argument("--database", default=BENCH_DB, help="The benchmark database (recreated).")
        parser.add_argument("--phase", choices=["measure"], help="(internal)")
        parser.add_argument("--out", help="(internal)")

    def handle(self, *args, **opts):
        if opts["uploads"] < 2 * opts["rounds"] or opts["rounds"] < 1:
            raise CommandError("--uploads must give every batch at least one upload (--uploads >= 2 x --rounds)")
        if opts["phase"] == "measure":
            return self._measure(opts)
        return self._orchestrate(opts)

    # --- the parent: database, child, table -----------------------------------------------------

    def _orchestrate(self, opts) -> None:
        from bench.api.server import bench, manage, server_env

        database = opts["database"]
        redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
        load_before = os.getloadavg()
        dbs.fresh(database, redis_url, benchmark="bench handoff")
        env = server_env(
            database_url=dbs.database_url(database), redis_url=redis_url, secret_key=secrets.token_urlsafe(50)
        )
        self.stdout.write(
            f"bench handoff: fresh database {database}, Redis {redis_url}, {opts['uploads']} uploads, "
            f"{opts['rounds']} rounds, worker concurrency {opts['concurrency']}"
        )
        manage("migrate", "--noinput", "-v", "0", env=env)
        with tempfile.TemporaryDirectory(prefix="bench-handoff-") as tmp:
            out = Path(tmp) / "result.json"
            argv = ["handoff", "--phase", "measure", "--out", str(out), "--database", database]
            for name in ("uploads", "rounds", "tags", "concurrency"):
                argv += [f"--{name}", str(opts[name])]
            try:
                bench(*argv, env=env)
            finally:
                redis.Redis.from_url(redis_url).flushdb()
            result: dict[str, Any] = json.loads(out.read_text())
        result["loadavg_before"], result["loadavg_after"] = load_before, os.getloadavg()
        self._report(result)

    def _report(self, result: dict[str, Any]) -> None:
        ways = result["ways"]
        self.stdout.write(f"\n{'hand-off':34} {'uploads/s':>10} {'worker ms/upload':>17} {'PostgreSQL ms/upload':>21}")
        for way, title in (("tasks", "a Celery task per upload"), ("drain", "the Redis list, drained")):
            w = ways[way]
            self.stdout.write(f"{title:34} {w['uploads_per_s']:10.1f} {w['worker_ms']:17.1f} {w['postgres_ms']:21.1f}")
        ratio = ways["drain"]["uploads_per_s"] / ways["tasks"]["uploads_per_s"]
        self.stdout.write(
            f"the drain: {ratio:.2f}x the uploads per second, "
            f"{ways['drain']['worker_ms'] / ways['tasks']['worker_ms']:.2f}x the worker's CPU per upload"
        )
        out_dir = Path(settings.BASE_DIR) / ".bench"
        out_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = out_dir / f"handoff-{stamp}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        self.stdout.write(
            f"written {path.relative_to(settings.BASE_DIR)}; load average {result['loadavg_before'][0]:.2f} before, "
            f"{result['loadavg_after'][0]:.2f} after"
        )

    # --- the child: plant, worker, batches --------------------------------------------------------

    def _measure(self, opts) -> None:
        from django.utils import timezone

        from bench.ingest import plant
        from config.celery import app
        from devices.models import ReaderUpload

        app.conf.task_always_eager = False  # publish, as the production settings do
        spec = plant.PlantSpec(tags=opts["tags"], uploads=opts["uploads"])
        world = plant.seed(spec)
        now = timezone.now()
        ids = plant.store_uploads(
            plant.generate_uploads(world, spec, start=now - dt.timedelta(days=1)), received_at=now
        )
        received = dict(ReaderUpload.objects.filter(pk__in=ids).values_list("pk", "received_at"))
        batches = 2 * opts["rounds"]
        size = len(ids) // batches
        worker = _start_worker(opts["concurrency"])
        runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
        try:
            for n in range(batches):
                way = WAYS[n % 2]
                runs[way].append(_batch(way, ids[n * size : (n + 1) * size], received, worker, opts["database"]))
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        ways = {}
        for way, rows in runs.items():
            uploads = sum(r["uploads"] for r in rows)
            ways[way] = {
                "uploads_per_s": round(uploads / sum(r["seconds"] for r in rows), 1),
                "worker_ms": round(1000 * sum(r["worker_s"] for r in rows) / uploads, 2),
                "postgres_ms": round(1000 * sum(r["postgres_s"] for r in rows) / uploads, 2),
                "batches_per_s": [round(r["uploads"] / r["seconds"], 1) for r in rows],
                "median_batch_per_s": round(statistics.median(r["uploads"] / r["seconds"] for r in rows), 1),
            }
        Path(opts["out"]).write_text(json.dumps({"ways": ways, "runs": runs, "uploads": len(ids)}))


def _start_worker(concurrency: int) -> subprocess.Popen:
    """``celery worker -Q ingest`` under a shell that stays its parent (so its whole process tree,
    the consumer included, is the worker's CPU), in a session of its own; ready once it answers a ping."""
    log = tempfile.NamedTemporaryFile(prefix="bench-handoff-worker-", suffix=".log", delete=False)
    celery = str(Path(sys.executable).with_name("celery"))
    command = f"{celery} -A config worker -Q ingest -c {concurrency} --without-mingle --without-gossip; true"
    worker = subprocess.Popen(  # noqa: S602 - our own fixed command line
        command, shell=True, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=settings.BASE_DIR
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):  # the worker answers once it consumes
        if worker.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"the worker did not start; its log: {log.name}")
    return worker


def _batch(way: str, batch: list[int], received: dict[int, dt.datetime], worker, database: str) -> dict[str, float]:
    """Hand ``batch`` off one way; wait until every upload in it is processed (or rejected)."""
    from bench.api import cpu_split
    from devices import upload_queue
    from devices.models import ReaderUpload, UploadStatus
    from devices.tasks import process_reader_upload

    before = cpu_split.snapshot(worker.pid, database)
    for pk in batch:
        if way == "tasks":
            process_reader_upload.delay(pk, received[pk].isoformat())
        else:
            upload_queue.hand_off(pk, received[pk])
    deadline = time.monotonic() + 600
    while ReaderUpload.objects.filter(pk__in=batch, status=UploadStatus.QUEUED).exists():
        if time.monotonic() > deadline:
            raise CommandError(f"{way}: uploads still queued after 10 minutes")
        time.sleep(0.02)
    seconds = time.monotonic() - before.at
    time.sleep(upload_queue.LINGER_S + 0.5)  # a drain lingers: count its CPU up to its end, not the next batch's
    after = cpu_split.snapshot(worker.pid, database)
    return {
        "uploads": len(batch),
        "seconds": round(seconds, 3),
        "worker_s": round(after.seconds["worker"] - before.seconds["worker"], 3),
        "postgres_s": round(after.seconds["postgres"] - before.seconds["postgres"], 3),
    }
