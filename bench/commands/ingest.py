"""``python -m bench ingest``: end-to-end ingestion throughput on PostgreSQL.

1. A fresh database ``shopfloor_bench_ingest`` on ``DATABASE_URL``'s server is
   migrated and seeded with the synthetic plant (``bench/ingest/plant.py``:
   2,500 tags, 50 read points) and its uploads are stored as queued
   ``ReaderUpload`` rows in the Zebra IoT Connector format.
2. A copy of it (``shopfloor_bench_ingest_base``) is made, so both
   implementations start from the same state with the same uploads.
3. A worker process runs the pipeline (the worker's task, ``process_reader_upload``,
   with the message the endpoint enqueues) over every upload: reads per second from stored upload to committed effects, queries
   per upload and the worker's resident memory as the uploads add up.
4. Another process runs the per-read ORM baseline (``bench/ingest/baseline.py``)
   over the first uploads of the copy, and the tags' zones after those uploads
   are compared with the pipeline's.
5. With ``--compare-plain``: a second database (``<database>_plain``) is migrated
   with ``HISTORY_PARTITIONING=0``, so its history tables stay plain, and seeded
   with the same plant and uploads; the pipeline then runs over a fresh copy of
   each, back to back, ``--rounds`` times (alternating which goes first, so a
   machine getting busier or quieter weighs on both alike), and the ratio
   partitioned / plain is reported per round and as the median. Both runs drive
   the same code: the worker's task with the message the endpoint enqueues.

Prints the figures and the ratios; writes ``.bench/ingest-latest.json``.
``--database`` names the databases (default ``shopfloor_bench_ingest``; a developer's
own ``shopfloor_<owner>_bench...`` keeps two people's runs apart).
Never runs on SQLite: without a PostgreSQL ``DATABASE_URL`` it uses the local
server (postgres://postgres@127.0.0.1:5432) or stops.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from bench import dbs
from bench.ingest import plant

DB = "shopfloor_bench_ingest"


def _names(db: str) -> dict[str, str]:
    """The benchmark's databases, all named after ``--database`` (checked by ``dbs``)."""
    names = {
        "db": db,
        "base": f"{db}_base",
        "scale": f"{db}_scale",
        "plain": f"{db}_plain",
        "run": f"{db}_run",
        "plain_run": f"{db}_plain_run",
    }
    for name in names.values():
        dbs.check_name(name)
    return names


def _clone(source: str, target: str) -> None:
    dbs.check_name(target)
    with psycopg.connect(dbs.server_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))


def _drop(name: str) -> None:
    dbs.check_name(name)
    with psycopg.connect(dbs.server_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _best_of(rounds: list[dict]) -> dict[str, float]:
    """Each upload's fastest time over the rounds, summed per kind of table: a busy machine
    slows some uploads of some rounds, rarely the same upload in every round."""
    fastest = {
        kind: [min(times) for times in zip(*(r[f"{kind}_upload_seconds"] for r in rounds), strict=True)]
        for kind in ("partitioned", "plain")
    }
    n = max(1, len(fastest["plain"]))
    return {
        "ratio": sum(fastest["plain"]) / sum(fastest["partitioned"]),
        "partitioned_ms": 1000 * sum(fastest["partitioned"]) / n,
        "plain_ms": 1000 * sum(fastest["plain"]) / n,
    }


def _statement_differences(rounds: list[dict]) -> list[tuple[str, float, float]]:
    """(statement kind, partitioned ms per upload, plain ms per upload), largest difference first."""
    kinds = {k for r in rounds for side in ("partitioned", "plain") for k in r[f"{side}_statement_seconds"]}
    rows = []
    for kind in kinds:
        part, plain = (
            statistics.median(1000 * r[f"{side}_statement_seconds"].get(kind, 0.0) / r["uploads"] for r in rounds)
            for side in ("partitioned", "plain")
        )
        rows.append((kind, part, plain))
    return sorted(rows, key=lambda row: -abs(row[1] - row[2]))


class Command(BaseCommand):
    help = "Benchmark reader-upload ingestion (pipeline vs per-read ORM baseline) on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--tags", type=int, default=2500)
        parser.add_argument("--uploads", type=int, default=300, help="Uploads the pipeline processes.")
        parser.add_argument(
            "--baseline-uploads", type=int, default=5, help="Uploads the per-read baseline processes (it is slow)."
        )
        parser.add_argument("--seconds-per-upload", type=int, default=3)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Also run the uploads through this many worker processes at once (wall clock).",
        )
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark databases afterwards.")
        parser.add_argument("--database", default=DB, help="The benchmark database's name (copies add a suffix).")
        parser.add_argument(
            "--compare-plain",
            action="store_true",
            help="Also run the pipeline on a database whose history tables stay plain, back to back.",
        )
        parser.add_argument(
            "--rounds", type=int, default=3, help="With --compare-plain: partitioned/plain pairs to run."
        )
        parser.add_argument("--phase", choices=["seed", "pipeline", "workers", "baseline"], help="(internal)")
        parser.add_argument("--at", help="(internal) the seed's clock, ISO 8601")
        parser.add_argument("--in", dest="infile", help="(internal)")
        parser.add_argument("--out", help="(internal)")

    # ------------------------------------------------------------------ phases

    def _phase(self, opts) -> None:
        from django.db import connection

        from bench.ingest import run

        if connection.vendor != "postgresql" or not dbs.is_bench_name(connection.settings_dict["NAME"]):
            raise CommandError("bench_ingest phases run only on a shopfloor_bench* PostgreSQL database.")
        spec = plant.PlantSpec(
            tags=opts["tags"], uploads=opts["uploads"], seconds_per_upload=opts["seconds_per_upload"]
        )
        if opts["phase"] == "seed":
            result = run.phase_seed(spec, now=dt.datetime.fromisoformat(opts["at"]) if opts["at"] else None)
        else:
            seeded = json.loads(Path(opts["infile"]).read_text())
            ids, messages = seeded["upload_ids"], seeded["messages"]
            if opts["phase"] == "pipeline":
                result = run.phase_pipeline(ids, messages, snapshot_after=min(opts["baseline_uploads"], len(ids)))
            elif opts["phase"] == "workers":
                result = run.phase_workers(ids, messages, workers=opts["workers"])
            else:
                result = run.phase_baseline(ids[: opts["baseline_uploads"]])
            run.check_processed(result)
        run.write_json(opts["out"], result)

    # ------------------------------------------------------------ orchestration

    def handle(self, *args, **opts):
        if opts["phase"]:
            return self._phase(opts)
        if opts["rounds"] < 1:
            raise CommandError("--rounds must be >= 1")
        try:
            names = _names(opts["database"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            self.stderr.write(
                self.style.WARNING(
                    "DATABASE_URL is not PostgreSQL: the benchmark never runs on SQLite; "
                    f"using the server at {dbs.server_url()}"
                )
            )
        try:
            dbs.recreate(names["db"])
            if opts["compare_plain"]:
                dbs.recreate(names["plain"])
        except psycopg.Error as exc:
            raise CommandError(f"bench ingest needs a PostgreSQL server ({dbs.server_url()}): {exc}") from exc
        workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        # One clock for every seed: the uploads' read times (and the dedupe's time buckets, which
        # decide what the arbitration sees) are then the same in the partitioned and plain databases.
        at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        common = [
            "--at",
            at,
            "--tags",
            str(opts["tags"]),
            "--uploads",
            str(opts["uploads"]),
            "--workers",
            str(opts["workers"]),
            "--baseline-uploads",
            str(opts["baseline_uploads"]),
            "--seconds-per-upload",
            str(opts["seconds_per_upload"]),
        ]
        db = names["db"]
        rounds: list[dict] = []
        try:
            self.stdout.write(
                f"seeding {db}: {opts['tags']} tags, {plant.N_READERS * plant.ANTENNAS} read points, "
                f"{opts['uploads']} uploads ..."
            )
            seed = self._sub(db, "seed", common, workdir)
            _clone(db, names["base"])
            if opts["workers"] > 1:
                _clone(db, names["scale"])
            if opts["compare_plain"]:
                self.stdout.write(f"seeding {names['plain']} the same, its history tables plain ...")
                plain_seed = self._sub(names["plain"], "seed", common, workdir, plain=True, tag="plain-")
                self._compare(names, seed, plain_seed, common, workdir, opts["rounds"], rounds)
            self.stdout.write(
                f"pipeline, one worker, over {len(seed['upload_ids'])} uploads ({seed['events']:,} reads) ..."
            )
            pipe = self._sub(db, "pipeline", common, workdir, infile=workdir / "seed.json")
            scale = None
            if opts["workers"] > 1:
                self.stdout.write(f"pipeline, {opts['workers']} workers, over the same uploads ...")
                scale = self._sub(names["scale"], "workers", common, workdir, infile=workdir / "seed.json")
            if opts["baseline_uploads"] > 0:
                self.stdout.write(f"per-read ORM baseline over the first {opts['baseline_uploads']} uploads ...")
                base = self._sub(names["base"], "baseline", common, workdir, infile=workdir / "seed.json")
            else:
                base = None
        finally:
            if not opts["keep"]:
                for name in names.values():
                    try:
                        _drop(name)
                    except psycopg.Error:
                        pass
        self._report(seed, pipe, scale, base, rounds, opts)

    def _compare(
        self,
        names: dict[str, str],
        seed: dict,
        plain_seed: dict,
        common: list[str],
        workdir: Path,
        n_rounds: int,
        rounds: list[dict],
    ) -> None:
        """The pipeline over a fresh copy of the partitioned and of the plain database, back to
        back, ``n_rounds`` times; the first of each pair alternates."""
        if not seed["upload_partitions"] or plain_seed["upload_partitions"]:
            raise CommandError(
                "--compare-plain needs pg_partman on the server: the uploads table is "
                f"{'partitioned' if seed['upload_partitions'] else 'plain'} in {names['db']} and "
                f"{'partitioned' if plain_seed['upload_partitions'] else 'plain'} in {names['plain']}"
            )
        for n in range(n_rounds):
            order = ("partitioned", "plain") if n % 2 == 0 else ("plain", "partitioned")
            result: dict[str, dict] = {}
            for kind in order:
                source, target = (
                    (names["db"], names["run"]) if kind == "partitioned" else (names["plain"], names["plain_run"])
                )
                _clone(source, target)
                self.stdout.write(f"round {n + 1}/{n_rounds}: pipeline on the {kind} tables ...")
                result[kind] = self._sub(
                    target,
                    "pipeline",
                    common,
                    workdir,
                    infile=workdir / ("seed.json" if kind == "partitioned" else "plain-seed.json"),
                    plain=kind == "plain",
                    tag=f"{kind}-{n}-",
                )
                _drop(target)
            rounds.append(
                {
                    "first": order[0],
                    "partitioned_reads_per_s": result["partitioned"]["reads_per_s"],
                    "plain_reads_per_s": result["plain"]["reads_per_s"],
                    "partitioned_queries_per_upload": result["partitioned"]["queries_per_upload"],
                    "plain_queries_per_upload": result["plain"]["queries_per_upload"],
                    "ratio": result["partitioned"]["reads_per_s"] / result["plain"]["reads_per_s"],
                    "partitioned_upload_seconds": result["partitioned"]["upload_seconds"],
                    "plain_upload_seconds": result["plain"]["upload_seconds"],
                    "partitioned_statement_seconds": result["partitioned"]["statement_seconds"],
                    "plain_statement_seconds": result["plain"]["statement_seconds"],
                    "uploads": result["partitioned"]["uploads"],
                    "partitioned_work": {k: result["partitioned"][k] for k in ("reads", "moves", "effects")},
                    "plain_work": {k: result["plain"][k] for k in ("reads", "moves", "effects")},
                }
            )

    def _sub(
        self,
        db: str,
        phase: str,
        common: list[str],
        workdir: Path,
        infile: Path | None = None,
        *,
        plain: bool = False,
        tag: str = "",
    ) -> dict:
        out = workdir / f"{tag}{phase}.json"
        env = {
            **os.environ,
            "DATABASE_URL": dbs.database_url(db),
            "DEBUG": "0",  # no query log in the worker
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(32),
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
        if plain:
            env["HISTORY_PARTITIONING"] = "0"  # read by the migrations: the history tables stay plain
        env.pop("REDIS_URL", None)  # the worker calls the service itself; no broker involved
        cmd = [
            sys.executable,
            "-m",
            "bench",
            "ingest",
            "--phase",
            phase,
            "--out",
            str(out),
            *common,
        ]
        if infile is not None:
            cmd += ["--in", str(infile)]
        done = subprocess.run(cmd, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CommandError(f"bench ingest phase {phase} failed:\n{done.stderr[-4000:]}")
        return json.loads(out.read_text())

    def _report(self, seed: dict, pipe: dict, scale: dict | None, base: dict | None, rounds: list[dict], opts) -> None:
        base = base or {
            "uploads": 0,
            "reads": 0,
            "seconds": 0.0,
            "reads_per_s": 0,
            "queries_per_upload": 0,
            "moves": 0,
            "effects": {},
            "zones_after_snapshot": {},
        }
        ratio = pipe["reads_per_s"] / base["reads_per_s"] if base["reads_per_s"] else None
        snapshot = pipe.pop("zones_after_snapshot") or {}
        base_zones = base.pop("zones_after_snapshot") or {}
        if not base_zones:
            snapshot = {}
        same = sum(1 for t, z in snapshot.items() if base_zones.get(t) == z)
        agreement = same / len(snapshot) if snapshot else None
        w = self.stdout.write
        w("")
        w(
            f"ingestion benchmark · PostgreSQL · {seed['tags']} tags · {seed['read_points']} read points · "
            f"zebra_iotc uploads of ~{seed['events'] // max(1, len(seed['upload_ids'])):,} reads"
        )
        w(
            f"  pipeline   {pipe['uploads']:>5} uploads {pipe['reads']:>10,} reads {pipe['seconds']:>8.2f} s "
            f"{pipe['reads_per_s']:>12,.0f} reads/s  {pipe['queries_per_upload']:>6} queries/upload  "
            f"moves {pipe['moves']:,} effects {pipe['effects']}"
        )
        if scale is not None:
            w(
                f"  pipeline x{scale['workers']} {scale['uploads']:>4} uploads {scale['reads']:>10,} reads "
                f"{scale['seconds']:>8.2f} s {scale['reads_per_s']:>12,.0f} reads/s  (wall clock, {scale['workers']} "
                "worker processes)"
            )
        w(
            f"  baseline   {base['uploads']:>5} uploads {base['reads']:>10,} reads {base['seconds']:>8.2f} s "
            f"{base['reads_per_s']:>12,.0f} reads/s  {base['queries_per_upload']:>6} queries/upload  "
            f"moves {base['moves']:,} effects {base['effects']}"
        )
        w(f"  ratio      {ratio:.1f}x" if ratio else "  ratio      n/a")
        if agreement is not None and base["uploads"]:
            w(f"  same zone after the first {base['uploads']} uploads: {agreement:.1%} of {len(snapshot)} tags")
        segments, prev_n, prev_t = [], 0, 0.0
        per_upload = pipe["reads"] / max(1, pipe["uploads"])
        for point in pipe["rss_curve"]:
            dt_s = point["busy_s"] - prev_t
            if dt_s > 0:
                segments.append(f"{(point['uploads'] - prev_n) * per_upload / dt_s:,.0f}")
            prev_n, prev_t = point["uploads"], point["busy_s"]
        w("  reads/s per tenth of the run: " + ", ".join(segments))
        w(
            "  worker peak RSS as uploads grow (MiB): "
            + ", ".join(f"{p['uploads']}: {p['peak'] / 1024:.0f}" for p in pipe["rss_curve"])
        )
        best = max(pipe["reads_per_s"], (scale or {}).get("reads_per_s") or 0)
        w(
            f"  >= 20,000 reads/s: {'yes' if pipe['reads_per_s'] >= 20_000 else 'no'} with one worker, "
            f"{'yes' if best >= 20_000 else 'no'} at best ({best:,.0f}); >= 10x the baseline (one worker each): "
            f"{'yes' if (ratio or 0) >= 10 else 'no'}"
        )
        partitioned_vs_plain = statistics.median(r["ratio"] for r in rounds) if rounds else None
        if rounds:
            w(f"  partitioned vs plain history tables ({seed['upload_partitions']} upload partitions), same run:")
            for n, r in enumerate(rounds, start=1):
                w(
                    f"    round {n} ({r['first']} first): partitioned {r['partitioned_reads_per_s']:>9,.0f} reads/s "
                    f"({r['partitioned_queries_per_upload']} q/upload), plain {r['plain_reads_per_s']:>9,.0f} "
                    f"reads/s ({r['plain_queries_per_upload']} q/upload), ratio {r['ratio']:.3f}"
                )
            w(
                f"  partitioned / plain, median of {len(rounds)}: {partitioned_vs_plain:.3f} "
                f"(no slower: {'yes' if partitioned_vs_plain >= 0.95 else 'no'}, within 5 %)"
            )
            for n, r in enumerate(rounds, start=1):
                if r["partitioned_work"] != r["plain_work"]:
                    w(f"    round {n} did different work: {r['partitioned_work']} vs {r['plain_work']}")
            best = _best_of(rounds)
            w(
                f"  partitioned / plain, each upload's fastest of the {len(rounds)} rounds: {best['ratio']:.3f} "
                f"({best['partitioned_ms']:.2f} vs {best['plain_ms']:.2f} ms per upload; steadier on a busy machine)"
            )
            w("  statement time per upload, partitioned vs plain (ms, median of the rounds; largest differences):")
            for kind, part_ms, plain_ms in _statement_differences(rounds)[:6]:
                w(f"    {kind:<45} {part_ms:>7.3f} {plain_ms:>7.3f}  {part_ms - plain_ms:+.3f}")
        out_dir = Path(settings.BASE_DIR) / ".bench"
        out_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        report = {
            "at": stamp,
            "seed": {k: v for k, v in seed.items() if k not in ("upload_ids", "messages")},
            "pipeline": pipe,
            "pipeline_workers": scale,
            "baseline": base,
            "ratio": ratio,
            "zone_agreement": agreement,
            "partitioned_vs_plain": {
                "rounds": rounds,
                "median_ratio": partitioned_vs_plain,
                "best_of_rounds": _best_of(rounds),
            }
            if rounds
            else None,
            "command": "python -m bench ingest "
            + " ".join(f"--{k.replace('_', '-')} {opts[k]}" for k in ("tags", "uploads", "baseline_uploads", "workers"))
            + (f" --compare-plain --rounds {opts['rounds']}" if rounds else ""),
        }
        for name in (f"ingest-{stamp}.json", "ingest-latest.json"):
            (out_dir / name).write_text(json.dumps(report, indent=2, default=str))
