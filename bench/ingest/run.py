"""Phases of ``python -m bench ingest``; each runs in its own process against its
own ``shopfloor_bench*`` database (see the command for the orchestration)."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import resource
import time
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench.ingest import plant
from devices.models import ReaderUpload, TagState, UploadStatus


def rss_kib() -> dict[str, int]:
    """Current and peak resident set size of this process (KiB)."""
    out = {"rss": 0, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["peak"] = int(line.split()[1])
    except OSError:
        pass
    return out


def phase_seed(spec: plant.PlantSpec, *, now: dt.datetime | None = None) -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    world = plant.seed(spec)
    now = now or timezone.now()
    uploads = plant.generate_uploads(world, spec, start=now - dt.timedelta(days=1))
    ids = plant.store_uploads(uploads, received_at=now)
    from devices.services import upload_message

    # What the endpoint enqueues for each upload, so the pipeline phase drives the worker's task.
    received = dict(ReaderUpload.objects.filter(pk__in=ids).values_list("pk", "received_at"))
    messages = [list(upload_message(pk, received[pk])) for pk in ids]
    with connection.cursor() as cursor:
        # Partitions of the uploads table (0: a plain table), so the report says what it compared.
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'devices_readerupload'::regclass")
        (upload_partitions,) = cursor.fetchone()
    return {
        "upload_ids": ids,
        "messages": messages,
        "upload_partitions": upload_partitions,
        "bytes": sum(len(b) for _, b in uploads),
        "events": sum(b.count(b'"idHex"') for _, b in uploads),
        "tags": spec.tags,
        "read_points": plant.N_READERS * plant.ANTENNAS,
        "seed_seconds": round(time.perf_counter() - started, 1),
        "mix": spec.mix,
    }


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.I)


def statement_kind(sql: str) -> str:
    """``SELECT devices_readerupload``: the verb and the first table a statement names."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    found = _TABLE.search(sql)
    return f"{verb} {found.group(1)}" if found else verb


def _zones() -> dict[str, int | None]:
    return dict(TagState.objects.values_list("tag__tag_id", "location_id"))


def _run(
    upload_ids: list[int], process, *, snapshot_after: int, checkpoints: int, messages: list[list] | None = None
) -> dict[str, Any]:
    """``process(*message)`` for each message (default: each upload id alone), timed: in all,
    per upload, and the statements' time by statement kind and table."""
    queries = {"n": 0}
    by_statement: dict[str, float] = {}

    def count(execute, sql, params, many, context):
        queries["n"] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = statement_kind(sql)
            by_statement[key] = by_statement.get(key, 0.0) + time.perf_counter() - started

    marks = sorted({max(1, round(len(upload_ids) * k / checkpoints)) for k in range(1, checkpoints + 1)})
    rss_curve = []
    snapshot = None
    reads = moves = 0
    busy = 0.0
    per_upload: list[float] = []
    gc.collect()
    rss_start = rss_kib()
    with connection.execute_wrapper(count):
        for n, message in enumerate(messages or [[pk] for pk in upload_ids], start=1):
            started = time.perf_counter()
            process(*message)
            per_upload.append(time.perf_counter() - started)
            busy += per_upload[-1]
            if n == snapshot_after:
                snapshot = _zones()
            if n in marks:
                rss_curve.append({"uploads": n, "busy_s": round(busy, 3), **rss_kib()})
    rows = ReaderUpload.objects.filter(pk__in=upload_ids).values_list("status", "result")
    statuses: dict[str, int] = {}
    effects: dict[str, int] = {}
    for status, result in rows:
        statuses[status] = statuses.get(status, 0) + 1
        reads += (result or {}).get("reads", 0)
        moves += (result or {}).get("moves", 0)
        for key in (
            "transfers",
            "arrivals",
            "arrivals_ignored",
            "moves_already_booked",
            "moves_without_effect",
            "effect_errors",
        ):
            effects[key] = effects.get(key, 0) + (result or {}).get(key, 0)
    return {
        "uploads": len(upload_ids),
        "reads": reads,
        "moves": moves,
        "effects": effects,
        "statuses": statuses,
        "seconds": round(busy, 3),
        "reads_per_s": round(reads / busy, 1) if busy else None,
        "queries": queries["n"],
        "queries_per_upload": round(queries["n"] / max(1, len(upload_ids)), 1),
        "rss_start_kib": rss_start,
        "rss_curve": rss_curve,
        "zones_after_snapshot": snapshot,
        "upload_seconds": [round(t, 6) for t in per_upload],
        "statement_seconds": {k: round(v, 6) for k, v in sorted(by_statement.items())},
    }


def phase_pipeline(upload_ids: list[int], messages: list[list], *, snapshot_after: int) -> dict[str, Any]:
    """The worker's task, called in-process with each message the endpoint enqueues."""
    from devices.tasks import process_reader_upload

    return _run(upload_ids, process_reader_upload, snapshot_after=snapshot_after, checkpoints=10, messages=messages)


def _worker(queue, results) -> None:
    """One worker process: take messages until the queue is empty (like a Celery
    prefork child with prefetch 1)."""
    from django.db import connections

    from devices.tasks import process_reader_upload

    done = 0
    while True:
        message = queue.get()
        if message is None:
            break
        process_reader_upload(*message)
        done += 1
    results.put({"uploads": done, **rss_kib()})
    connections.close_all()


def phase_workers(upload_ids: list[int], messages: list[list], *, workers: int) -> dict[str, Any]:
    """The same uploads through ``workers`` processes at once: wall-clock throughput."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # children open their own connections
    ctx = multiprocessing.get_context("fork")
    queue, results = ctx.Queue(), ctx.Queue()
    for message in messages:
        queue.put(message)
    for _ in range(workers):
        queue.put(None)
    procs = [ctx.Process(target=_worker, args=(queue, results)) for _ in range(workers)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    per_worker = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    wall = time.perf_counter() - started
    reads = 0
    statuses: dict[str, int] = {}
    for status, result in ReaderUpload.objects.filter(pk__in=upload_ids).values_list("status", "result"):
        statuses[status] = statuses.get(status, 0) + 1
        reads += (result or {}).get("reads", 0)
    return {
        "workers": workers,
        "uploads": len(upload_ids),
        "reads": reads,
        "statuses": statuses,
        "seconds": round(wall, 3),
        "reads_per_s": round(reads / wall, 1),
        "per_worker": per_worker,
    }


def phase_baseline(upload_ids: list[int]) -> dict[str, Any]:
    from bench.ingest.baseline import process_naive

    return _run(upload_ids, process_naive, snapshot_after=len(upload_ids), checkpoints=2)


def check_processed(result: dict[str, Any]) -> None:
    if result["statuses"].get(UploadStatus.PROCESSED, 0) != result["uploads"]:
        raise RuntimeError(f"not every upload was processed: {result['statuses']}")


def write_json(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, default=str))
    os.chmod(path, 0o600)
