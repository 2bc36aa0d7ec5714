"""``python -m bench api``: the API and pages benchmark, on the production shape.

1. a fresh PostgreSQL database ``shopfloor_bench`` on ``DATABASE_URL``'s server
   (default postgres://postgres@127.0.0.1:5432) and Redis db 9, migrated and
   seeded through the services (``bench/api/seed.py``);
2. the Procfile's web and Celery worker under honcho on 127.0.0.1, exactly as
   ``make serve`` runs them; ``--server`` picks the web shape(s) (``WEB_SERVER``,
   ``config/web.py``), ``--rounds`` repeats them, interleaved, for a comparison;
3. each scenario (``bench/api/scenarios.py``) driven by a bounded
   client: 8 connections, a fixed duration, 127.0.0.1 only; the CPU time of
   the web server, PostgreSQL, Redis, the worker and the client itself read at
   the edges of the timed window (``bench/api/cpu_split.py``), per request;
4. the 10-million-move ledger (``python -m bench seed_ledger``, cached in
   ``shopfloor_bench_ledger``): the levels selector timed in-process, and the
   levels endpoint driven like the rest against a server on that database.

Prints the table and writes ``.bench/api-<time>.json`` (and ``.bench/api-latest.json``).

Comparing shapes on a shared machine: ``--server mixed,asgi,wsgi,granian-wsgi
--rounds 3 --only ceiling,transfer,levels_list --skip-ledger``. Each round
starts every shape in turn (rotated, so none always goes first) and drives the
same scenarios; the table gives, per shape, the median over rounds of each
figure and of its ratio to the same run's ping, which stays meaningful when
other work on the machine moves the absolute figures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import statistics
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import Resolver404, resolve

from bench import dbs
from bench.api import cpu_split
from bench.api import scenarios as sc
from bench.api.client import run_load
from bench.api.server import Server, bench, manage, server_env
from config import web

# BENCH_DB: a developer's own copy (shopfloor_<owner>_bench) when several people share the server.
BENCH_DB = os.environ.get("BENCH_DB", "shopfloor_bench")
LEDGER_DB = "shopfloor_bench_ledger"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"


CPU_KEYS = (*cpu_split.GROUPS, "total", "other", "cores_busy", "cores_stolen")


def _predicted_share(ping: dict[str, Any], r: dict[str, Any]) -> float | None:
    """The share of the ping's throughput that the CPU costs predict: ping CPU / scenario CPU per
    request (the groups' total), as on a machine whose cores are saturated in both runs."""
    a, b = ping.get("cpu_ms_per_req"), r.get("cpu_ms_per_req")
    return round(a["total"] / b["total"], 3) if a and b and b["total"] else None


def _present(paths: list[str]) -> bool:
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            return False
    return True


class Command(BaseCommand):
    help = "Benchmark the API and pages on the production shape (fresh PostgreSQL database, 127.0.0.1 only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--duration",
            type=float,
            default=float(os.environ.get("BENCH_DURATION", "15")),
            help="Measured seconds per scenario (at most 60).",
        )
        parser.add_argument("--warmup", type=float, default=3.0)
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--only", default="", help="Comma-separated scenario keys.")
        parser.add_argument("--ledger-moves", type=int, default=int(os.environ.get("BENCH_LEDGER_MOVES", "10000000")))
        parser.add_argument("--skip-ledger", action="store_true")
        parser.add_argument(
            "--server",
            default="",
            help=f"Comma-separated web shapes (config/web.py): {', '.join(web.SHAPES)}. Default: make serve's.",
        )
        parser.add_argument("--rounds", type=int, default=1, help="Repeat every shape this many times, interleaved.")
        parser.add_argument(
            "--reuse-db", action="store_true", help="Keep the last run's seeded database (skip migrate and seed)."
        )
        parser.add_argument("--seed", metavar="FILE", help="(internal) seed the current database and write FILE")

    def handle(self, *args, **opts):
        if opts["seed"]:
            from bench.api.seed import seed as seed_bench

            Path(opts["seed"]).write_text(json.dumps(seed_bench(), indent=1))
            return
        if not 0 < opts["duration"] <= 60:
            raise CommandError("--duration must be between 0 and 60 seconds")
        out_dir = Path(settings.BASE_DIR) / ".bench"
        out_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        log_path = out_dir / f"api-{stamp}-server.log"
        only = {k for k in opts["only"].split(",") if k}
        chosen = [s for s in sc.SCENARIOS if not only or s.key in only or s.key == "ceiling"]

        shapes = [s for s in opts["server"].split(",") if s] or [os.environ.get("WEB_SERVER") or web.DEFAULT]
        unknown = [s for s in shapes if s not in web.SHAPES]
        if unknown or opts["rounds"] < 1:
            raise CommandError(f"--server: unknown {unknown}; choose from {', '.join(web.SHAPES)}; --rounds >= 1")

        redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
        redis.Redis.from_url(redis_url).flushdb()  # the benchmark's own db number only
        secret = secrets.token_urlsafe(50)
        env = server_env(database_url=dbs.database_url(BENCH_DB), redis_url=redis_url, secret_key=secret)
        self.stdout.write(
            f"bench api: database {BENCH_DB}, Redis {redis_url}, "
            f"{opts['concurrency']} connections x {opts['duration']:.0f} s per scenario, web: {', '.join(shapes)}"
        )
        seed_path = out_dir / "api-seed.json"
        if not (opts["reuse_db"] and seed_path.exists()):
            dbs.recreate(BENCH_DB)
            manage("migrate", "--noinput", "-v", "0", env=env)
            manage("collectstatic", "--noinput", "-v", "0", env=env)
            bench("api", "--seed", str(seed_path), env=env)
            dbs.settle(BENCH_DB)
        seed = json.loads(seed_path.read_text())

        load_before = os.getloadavg()
        if len(shapes) > 1 or opts["rounds"] > 1:
            runs = self._compare(shapes, chosen, seed, env, log_path, opts)
            self._report_compare(shapes, chosen, runs, opts, stamp, out_dir, load_before)
            return

        results: dict[str, dict[str, Any]] = {}
        with Server(env, log_path=log_path, web_server=shapes[0]) as server:
            self.stdout.write(
                f"server up at {server.base_url} ({shapes[0]}, web workers: "
                f"{env.get('WEB_CONCURRENCY') or 2 * (os.cpu_count() or 1)})"
            )
            for scenario in chosen:
                results[scenario.key] = self._run(scenario, seed, server, opts)

        ledger: dict[str, Any] | None = None
        if not opts["skip_ledger"] and (not only or "ledger" in only):
            ledger = self._ledger(opts, redis_url, secret, log_path, results)

        self._report(chosen, results, ledger, opts, stamp, out_dir, load_before, shape=shapes[0])

    # --- shapes compared ---------------------------------------------------------------

    def _compare(self, shapes, chosen, seed, env, log_path: Path, opts) -> list[dict[str, Any]]:
        """Every shape in every round, rotated per round; one result dict per (round, shape)."""
        runs = []
        for r in range(opts["rounds"]):
            k = r % len(shapes)
            for shape in shapes[k:] + shapes[:k]:
                self.stdout.write(f"round {r + 1}/{opts['rounds']}: {shape}")
                with Server(env, log_path=log_path, web_server=shape) as server:
                    results = {s.key: self._run(s, seed, server, opts) for s in chosen}
                runs.append({"round": r, "server": shape, "loadavg": os.getloadavg()[0], "scenarios": results})
        return runs

    def _report_compare(self, shapes, chosen, runs, opts, stamp, out_dir: Path, load_before) -> None:
        def med(values: list[float | None]) -> float | None:
            known = sorted(v for v in values if v is not None)
            return statistics.median(known) if known else None

        def ok(run: dict, key: str) -> dict | None:
            r = run["scenarios"].get(key)
            return r if r and r.get("status") == "ok" else None

        first = shapes[0]
        table: dict[str, dict[str, Any]] = {}
        for shape in shapes:
            mine = [run for run in runs if run["server"] == shape]
            row: dict[str, Any] = {}
            for scenario in chosen:
                answered = [(run, ok(run, scenario.key)) for run in mine]
                got = [(run, r) for run, r in answered if r is not None]
                if not got:
                    continue
                of_ping: list[float | None] = []
                of_first: list[float | None] = []
                predicted: list[float | None] = []
                for run, r in got:
                    ping = ok(run, "ceiling")
                    if ping and ping["req_per_s"]:
                        of_ping.append(r["req_per_s"] / ping["req_per_s"])
                    if ping:
                        predicted.append(_predicted_share(ping, r))
                    base = next(
                        (ok(b, scenario.key) for b in runs if b["server"] == first and b["round"] == run["round"]),
                        None,
                    )
                    if base and base["req_per_s"]:
                        of_first.append(r["req_per_s"] / base["req_per_s"])
                row[scenario.key] = {
                    "req_per_s": med([r["req_per_s"] for _, r in got]),
                    "p95_ms": med([r["p95_ms"] for _, r in got]),
                    "web_cpu_ms_per_req": med([r.get("web_cpu_ms_per_req") for _, r in got]),
                    "errors": sum(r["errors"] for _, r in got),
                    "of_ping": med(of_ping),
                    "of_ping_predicted": med(predicted),
                    "cpu_ms_per_req": {
                        k: med([r["cpu_ms_per_req"][k] for _, r in got if "cpu_ms_per_req" in r]) for k in CPU_KEYS
                    },
                    f"of_{first}": med(of_first),
                    "rounds": [r["req_per_s"] for _, r in got],
                }
            table[shape] = row
        self.stdout.write("")
        self.stdout.write(
            f"median of {opts['rounds']} round(s), {opts['concurrency']} connections, {opts['duration']:.0f} s each; "
            f"req/s (share of the same run's ping; x the same round's {first}), p95 ms, "
            "web server CPU ms per request"
        )
        for shape in shapes:
            cells = []
            for scenario in chosen:
                c = table[shape].get(scenario.key)
                if not c:
                    cells.append(f"{scenario.key}: n/a")
                    continue
                part = f"{scenario.key} {c['req_per_s']:,.0f}"
                if scenario.key != "ceiling" and c["of_ping"] is not None:
                    part += f" ({c['of_ping']:.2f} of ping"
                    part += f"; x{c[f'of_{first}']:.2f})" if c[f"of_{first}"] is not None else ")"
                elif c[f"of_{first}"] is not None:
                    part += f" (x{c[f'of_{first}']:.2f})"
                part += f" p95 {c['p95_ms']:.0f}"
                if c["web_cpu_ms_per_req"] is not None:
                    part += f" cpu {c['web_cpu_ms_per_req']:.1f} ms"
                if c["errors"]:
                    part += f" errors {c['errors']}"
                cells.append(part)
            self.stdout.write(f"{shape:<14} | " + " | ".join(cells))
        self._cpu_table([(shape, key, row) for shape, by_key in table.items() for key, row in by_key.items()])
        report = {
            "at": stamp,
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
            "concurrency": opts["concurrency"],
            "duration_s": opts["duration"],
            "rounds": opts["rounds"],
            "servers": shapes,
            "summary": table,
            "runs": runs,
        }
        path = out_dir / f"api-servers-{stamp}.json"
        path.write_text(json.dumps(report, indent=1))
        self.stdout.write(f"\nwritten {path.relative_to(settings.BASE_DIR)}; load average before {load_before[0]:.2f}")

    # --- one scenario ----------------------------------------------------------------

    def _run(self, scenario: sc.Scenario, seed: dict, server: Server, opts) -> dict[str, Any]:
        if not _present(scenario.needs):
            return {"status": "n/a (endpoint missing)"}
        if scenario.needs_seed and not seed.get(scenario.needs_seed):
            return {"status": f"n/a (no {scenario.needs_seed} seed yet)"}
        make = scenario.make(seed)
        cookies = scenario.cookies(seed) if scenario.cookies else None
        problem = self._preflight(server.base_url, make, cookies, scenario)
        if problem:
            self.stderr.write(f"{scenario.key}: {problem}")
            return {"status": f"failed: {problem[:200]}"}
        self.stdout.write(f"  {scenario.key} ...")
        pid = server.proc.pid if server.proc else None
        database = urlsplit(server.env["DATABASE_URL"]).path.lstrip("/")
        edges: list[cpu_split.Snapshot] = []
        outcome = run_load(
            server.base_url,
            make,
            concurrency=opts["concurrency"],
            duration=opts["duration"],
            warmup=opts["warmup"],
            cookies=cookies,
            at_window_edges=lambda: edges.append(cpu_split.snapshot(pid, database)),
        )
        summary = outcome.summary()
        if len(edges) == 2 and outcome.answered_in_window:
            # CPU ms per request answered in the timed window, by process group (bench/api/cpu_split.py)
            summary["cpu_ms_per_req"] = cpu_split.split(*edges, requests=outcome.answered_in_window)
            summary["web_cpu_ms_per_req"] = round(summary["cpu_ms_per_req"]["web"], 2)
        summary["status"] = "ok"
        return summary

    def _preflight(self, base_url: str, make, cookies, scenario: sc.Scenario) -> str | None:
        """One request (worker 99) before the load: right status, and the body checks out."""
        req = make(99, 0)
        headers = dict(req.headers)
        data = None
        if req.json is not None:
            data = json.dumps(req.json).encode()
            headers["Content-Type"] = "application/json"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        request = urllib.request.Request(base_url + req.path, data=data, headers=headers, method=req.method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - 127.0.0.1 only
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            return f"{req.method} {req.path}: {exc}"
        if status not in req.expect:
            return f"{req.method} {req.path} -> {status}: {body[:300]!r}"
        if scenario.check is not None:
            try:
                return scenario.check(json.loads(body))
            except ValueError:
                return "response is not JSON"
        return None

    # --- the 10M ledger --------------------------------------------------------------------

    def _ledger(self, opts, redis_url: str, secret: str, log_path: Path, results: dict) -> dict[str, Any]:
        env = server_env(database_url=dbs.database_url(LEDGER_DB), redis_url=redis_url, secret_key=secret)
        self.stdout.write(f"ledger: {opts['ledger_moves']:,} moves in {LEDGER_DB} (generated once, then cached)")
        done = bench(
            "seed_ledger",
            "--moves",
            str(opts["ledger_moves"]),
            "--measure",
            "300",
            "--json",
            env=env,
            capture=True,
        )
        info = json.loads(done.stdout.strip().splitlines()[-1])
        key = (
            manage(
                "shell",
                "-c",
                (
                    "from django.contrib.auth import get_user_model;"
                    "from bench.api.seed import _api_key;"
                    f"print(_api_key(get_user_model().objects.get(username={info['username']!r}), 'bench ledger'))"
                ),
                env=env,
                capture=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        seed = {"ledger": {"key": key, "skus": info["skus"], "site": info["site"]}}
        with Server(env, log_path=log_path, processes=("web",)) as server:
            results[sc.LEDGER_SCENARIO.key] = self._run(sc.LEDGER_SCENARIO, seed, server, opts)
        return info

    # --- the table ----------------------------------------------------------------------------

    def _report(self, chosen, results, ledger, opts, stamp, out_dir: Path, load_before, *, shape: str) -> None:
        ceiling = results.get("ceiling", {}).get("req_per_s") or None
        rows = []
        for scenario in [*chosen, sc.LEDGER_SCENARIO]:
            r = results.get(scenario.key)
            if r is None:
                continue
            if r.get("status") != "ok":
                rows.append((scenario.title, r["status"], "", ""))
                continue
            per_s = r["units_per_s"] if scenario.figure != "req/s" else r["req_per_s"]
            figure = f"{per_s:,.0f} {scenario.figure}, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms"
            if r["errors"]:
                figure += f", errors {r['errors']}"
            elif scenario.key == "transfer":
                figure += ", errors 0"
            frac = f"{r['req_per_s'] / ceiling:.2f}" if ceiling else ""
            r["fraction_of_ceiling"] = round(r["req_per_s"] / ceiling, 3) if ceiling else None
            r["of_ping"] = r["fraction_of_ceiling"]
            if results.get("ceiling", {}).get("status") == "ok":
                r["of_ping_predicted"] = _predicted_share(results["ceiling"], r)
            target = self._target(scenario, r)
            if ceiling and "of_ping" in scenario.target:
                share = r["req_per_s"] / ceiling
                met = share >= scenario.target["of_ping"] and (r["p95_ms"] or 1e9) < scenario.target["of_ping_p95_ms"]
                target += (
                    f"; >= {scenario.target['of_ping']:.2f} of ping and p95 < "
                    f"{scenario.target['of_ping_p95_ms']:.0f} ms: {'met' if met else 'MISSED'}"
                )
            rows.append((scenario.title, figure, frac, target))
        if ledger and ledger.get("levels_query"):
            q = ledger["levels_query"]
            met = "met" if q["p95_ms"] < 20 else "MISSED"
            rows.append(
                (
                    f"levels query, one item across a site, {ledger['moves']:,} moves (selector)",
                    f"p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms ({q['rows']} rows)",
                    "",
                    f"p95 < 20 ms: {met}",
                )
            )
        width = max(len(r[0]) for r in rows) if rows else 10
        self.stdout.write("")
        self.stdout.write(f"{'scenario':<{width}} | figure | req/s vs ceiling | target")
        for title, figure, frac, target in rows:
            self.stdout.write(f"{title:<{width}} | {figure} | {frac} | {target}")
        self._cpu_table([(shape, key, r) for key, r in results.items() if r.get("status") == "ok"])
        report = {
            "at": stamp,
            "command": " ".join(["python -m bench", *sys.argv[1:]]) if len(sys.argv) > 1 else "python -m bench api",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "concurrency": opts["concurrency"],
            "duration_s": opts["duration"],
            "web_concurrency": os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1),
            "scenarios": results,
            "ledger": ledger,
        }
        path = out_dir / f"api-{stamp}.json"
        path.write_text(json.dumps(report, indent=1))
        (out_dir / "api-latest.json").write_text(json.dumps(report, indent=1))
        self.stdout.write(f"\nwritten {path.relative_to(settings.BASE_DIR)}; load average before {load_before[0]:.2f}")
        if load_before[0] > 1.0:
            self.stdout.write("note: the machine was busy before the run; figures are lower than on an idle machine")

    def _cpu_table(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Per (shape, scenario): throughput, its share of the ping's, the share the CPU costs
        predict, and the CPU ms per request by process group."""
        self.stdout.write("")
        self.stdout.write(
            "CPU ms per request (timed window; bench/api/cpu_split.py): web / postgres / redis / worker / "
            "client / total of these; other = the machine's remaining busy time (kernel, honcho, anything else). "
            "predicted share = ping total / scenario total (what it is if the cores are saturated either way)"
        )
        self.stdout.write(
            f"{'shape':<13} {'scenario':<12} {'req/s':>7} {'share':>5} {'pred.':>5} | "
            f"{'web':>5} {'pg':>5} {'redis':>5} {'worker':>6} {'client':>6} {'total':>6} | {'other':>5} cores busy"
        )
        for shape, key, r in rows:
            cpu = r.get("cpu_ms_per_req") or {}
            if not cpu or cpu.get("total") is None:
                continue
            share = "" if key == "ceiling" or r.get("of_ping") is None else f"{r['of_ping']:.2f}"
            pred = "" if key == "ceiling" or r.get("of_ping_predicted") is None else f"{r['of_ping_predicted']:.2f}"
            groups = " ".join(f"{cpu[k]:>{w}.2f}" for k, w in zip(CPU_KEYS[:6], (5, 5, 5, 6, 6, 6), strict=True))
            busy = f"{cpu['cores_busy']:.2f}" + (f" (stolen {cpu['cores_stolen']:.2f})" if cpu["cores_stolen"] else "")
            self.stdout.write(
                f"{shape:<13} {key:<12} {r['req_per_s']:>7,.0f} {share:>5} {pred:>5} | {groups} | "
                f"{cpu['other']:>5.2f} {busy}"
            )

    @staticmethod
    def _target(scenario: sc.Scenario, r: dict) -> str:
        parts = []
        t = scenario.target
        if "units_per_s" in t:
            per_s = r["units_per_s"] if scenario.figure != "req/s" else r["req_per_s"]
            parts.append(f">= {t['units_per_s']:,.0f}: {'met' if per_s >= t['units_per_s'] else 'MISSED'}")
        if "p95_ms" in t:
            parts.append(f"p95 < {t['p95_ms']:.0f} ms: {'met' if (r['p95_ms'] or 1e9) < t['p95_ms'] else 'MISSED'}")
        return "; ".join(parts)
