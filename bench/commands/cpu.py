"""``python -m bench cpu``: CPU milliseconds and queries per request of the hot paths.

1. a fresh PostgreSQL database ``shopfloor_bench_cpu`` on ``DATABASE_URL``'s
   server (``--database`` names another ``shopfloor_bench*`` one) and a Redis
   db of its own (``BENCH_REDIS_URL``, default db 9; flushed before and after),
   migrated, then seeded through the services (``bench/cpu/seed.py``);
2. in a child process on that database (settings as ``make serve`` has them:
   ``DEBUG=0``, Redis cache and broker), every path of ``bench/cpu/paths.py``
   driven in-process through Django's test client: warm-up, query counts, then
   ``--iterations`` timed iterations (``bench/cpu/measure.py``);
3. the table: median and p90 thread CPU ms, the multiple of the ping's median
   in the same run, queries, and the baseline's figures next to them.

``--json FILE`` writes the figures (also always ``.bench/cpu-latest.json``);
``--update-baseline`` rewrites ``bench/baselines/cpu.json``, with the query
counts on PostgreSQL from this run and on SQLite from a count-only run on a
scratch file; ``--profile PATH`` adds a cProfile of more iterations of one path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench import dbs
from bench.cpu import baseline as bl
from bench.cpu import paths as cpu_paths

BENCH_DB = "shopfloor_bench_cpu"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
BOARD_ORDERS = 60


class Command(BaseCommand):
    help = (
        "CPU ms and queries per request of the hot paths, in-process on PostgreSQL + Redis, "
        "as multiples of the ping's CPU (fresh database; baseline in bench/baselines/cpu.json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--iterations", type=int, default=200, help="Timed iterations per path.")
        parser.add_argument("--warmup", type=int, default=20, help="Untimed iterations per path first.")
        parser.add_argument(
            "--count", type=int, default=3, help="Iterations per path whose queries are counted (the fewest is kept)."
        )
        parser.add_argument("--only", default="", help=f"Comma-separated paths ({', '.join(cpu_paths.KEYS)}).")
        parser.add_argument("--json", metavar="FILE", help="Also write the figures to FILE.")
        parser.add_argument("--update-baseline", action="store_true", help="Rewrite bench/baselines/cpu.json.")
        parser.add_argument("--profile", metavar="PATH", help="cProfile extra iterations of one path.")
        parser.add_argument("--profile-iterations", type=int, default=50)
        parser.add_argument("--database", default=BENCH_DB, help="The benchmark database (recreated).")
        parser.add_argument("--phase", choices=["measure"], help="(internal)")
        parser.add_argument("--out", help="(internal)")

    def handle(self, *args, **opts):
        if opts["iterations"] < 0 or opts["warmup"] < 0 or opts["count"] < 1:
            raise CommandError("--iterations and --warmup must be >= 0 and --count >= 1")
        try:
            chosen = cpu_paths.chosen(opts["only"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["profile"] and opts["profile"] not in cpu_paths.KEYS:
            raise CommandError(f"--profile: no path {opts['profile']!r}")
        if opts["phase"] == "measure":
            return self._measure(opts, chosen)
        return self._orchestrate(opts)

    # --- the child: seed and measure on the benchmark's database -------------------------------

    def _measure(self, opts, chosen: list[cpu_paths.Path]) -> None:
        from django.db import connection

        from bench.cpu import measure
        from bench.cpu.seed import seed
        from config.celery import app
        from tracker.models import Site

        if connection.vendor == "sqlite":
            if Path(connection.settings_dict["NAME"]).resolve() == (Path(settings.BASE_DIR) / "db.sqlite3").resolve():
                raise CommandError("bench cpu measures on a scratch SQLite file, never the project's db.sqlite3")
        else:
            dbs.check_name(connection.settings_dict["NAME"])
        if Site.objects.exists():
            raise CommandError("bench cpu seeds an empty database; this one has data")
        # Tasks go to the broker as in production (the request pays for the publish, not the task).
        app.conf.task_always_eager = False
        profile_n = opts["profile_iterations"] if opts["profile"] else 0
        needed = measure.iterations_needed(
            warmup=opts["warmup"], count=opts["count"], iterations=opts["iterations"], profile_iterations=profile_n
        )
        started = time.monotonic()
        data = seed(step_orders=needed, board_orders=BOARD_ORDERS)
        if connection.vendor == "postgresql":
            # Statistics as autovacuum would have them a minute after the load (bench/dbs.settle):
            # the plans, and so PostgreSQL's answer times, of a live database.
            dbs.settle(connection.settings_dict["NAME"])
        seeded = time.monotonic()
        results = measure.run(
            data,
            chosen,
            warmup=opts["warmup"],
            count=opts["count"],
            iterations=opts["iterations"],
            progress=self.stdout.write,
        )
        profile = ""
        if opts["profile"]:
            path = next(p for p in cpu_paths.PATHS if p.key == opts["profile"])
            profile = measure.profile(data, path, iterations=profile_n, skip=needed - profile_n)
        report = {
            "vendor": connection.vendor,
            "rows": bl.summarise(results),
            "profile": profile,
            "seed_s": round(seeded - started, 1),
            "measure_s": round(time.monotonic() - seeded, 1),
        }
        Path(opts["out"]).write_text(json.dumps(report, indent=1))

    # --- the parent: databases, children, table, baseline ----------------------------------------

    def _child(self, env: dict[str, str], out: Path, opts, *, iterations: int, warmup: int, profile: bool) -> dict:
        from bench.api.server import bench, manage

        manage("migrate", "--noinput", "-v", "0", env=env)
        argv = ["cpu", "--phase", "measure", "--out", str(out), "--iterations", str(iterations)]
        argv += ["--warmup", str(warmup), "--count", str(opts["count"])]
        if opts["only"]:
            argv += ["--only", opts["only"]]
        if profile and opts["profile"]:
            argv += ["--profile", opts["profile"], "--profile-iterations", str(opts["profile_iterations"])]
        bench(*argv, env=env)
        result: dict = json.loads(out.read_text())
        return result

    def _orchestrate(self, opts) -> None:
        from bench.api.server import server_env

        database = opts["database"]
        redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
        out_dir = Path(settings.BASE_DIR) / ".bench"
        out_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.stdout.write(
            f"bench cpu: fresh database {database}, Redis {redis_url}, "
            f"{opts['warmup']} warm-up + {opts['iterations']} timed iterations per path"
        )
        load_before = os.getloadavg()
        dbs.fresh(database, redis_url, benchmark="bench cpu")
        env = server_env(
            database_url=dbs.database_url(database), redis_url=redis_url, secret_key=secrets.token_urlsafe(50)
        )
        from bench.api.server import manage

        manage("collectstatic", "--noinput", "-v", "0", env=env)  # DEBUG=0 pages need the manifest
        with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
            try:
                pg = self._child(
                    env, Path(tmp) / "pg.json", opts, iterations=opts["iterations"], warmup=opts["warmup"], profile=True
                )
            finally:
                redis.Redis.from_url(redis_url).flushdb()  # the tasks the requests queued: no worker runs them
            counts = {pg["vendor"]: {k: r["queries"] for k, r in pg["rows"].items()}}
            if opts["update_baseline"]:
                self.stdout.write("counting queries on SQLite too (scratch file) for the baseline ...")
                lite_env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
                lite_env["SQLITE_PATH"] = str(Path(tmp) / "cpu.sqlite3")
                lite = self._child(lite_env, Path(tmp) / "lite.json", opts, iterations=0, warmup=1, profile=False)
                counts[lite["vendor"]] = {k: r["queries"] for k, r in lite["rows"].items()}
        self._report(opts, pg, counts, stamp=stamp, out_dir=out_dir, load_before=load_before)

    def _report(self, opts, pg: dict, counts: dict, *, stamp: str, out_dir: Path, load_before) -> None:
        previous = json.loads(bl.BASELINE.read_text()) if bl.BASELINE.exists() else None
        vendor, rows = pg["vendor"], pg["rows"]
        self.stdout.write("")
        self.stdout.write(bl.table(rows, previous, vendor))
        if pg.get("profile"):
            self.stdout.write("")
            self.stdout.write(pg["profile"])
        load_after = os.getloadavg()
        run: dict[str, Any] = {
            "at": stamp,
            "iterations": opts["iterations"],
            "warmup": opts["warmup"],
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_before": load_before,
                "loadavg_after": load_after,
            },
        }
        report = {**run, "vendor": vendor, "seed_s": pg["seed_s"], "measure_s": pg["measure_s"], "paths": rows}
        report["query_counts"] = counts
        text = json.dumps(report, indent=1)
        (out_dir / "cpu-latest.json").write_text(text)
        if opts["json"]:
            Path(opts["json"]).write_text(text)
            self.stdout.write(f"\nwritten {opts['json']}")
        self.stdout.write(
            f"seeded in {pg['seed_s']} s, measured in {pg['measure_s']} s; "
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        )
        if load_before[0] > 1.0:
            self.stdout.write(
                "note: the machine was busy: absolute CPU figures are inflated; compare the x-ping ratios"
            )
        if previous is not None:
            for message in bl.grown(rows, previous, vendor):
                self.stderr.write(self.style.WARNING(f"more queries than the baseline: {message}"))
        if opts["update_baseline"]:
            if opts["only"]:
                self.stdout.write("note: --only: the other paths keep their previous baseline figures")
            new = bl.updated(previous, rows, vendor=vendor, counts=counts, run=run)
            bl.BASELINE.parent.mkdir(exist_ok=True)
            bl.BASELINE.write_text(json.dumps(new, indent=1) + "\n")
            self.stdout.write(f"baseline written: {bl.BASELINE.relative_to(settings.BASE_DIR)}")
