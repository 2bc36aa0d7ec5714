"""The CPU benchmark's results: the table, the JSON report and the baseline in the repository.

``bench/baselines/cpu.json`` keeps, per path, the query count per database
vendor (``postgresql`` from the benchmark's run, ``sqlite`` from a count-only
run on a scratch SQLite file; ``tests/test_request_cost.py`` fails when a
count grows past it) and the CPU figures of the run that wrote it (for
reading, never asserted: they depend on the machine and its load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cpu.paths import PATHS

BASELINE = Path(__file__).resolve().parent.parent / "baselines" / "cpu.json"
ABOUT = (
    "Written by `python -m bench cpu --update-baseline`. Per path: queries per iteration by database vendor "
    "(tests/test_request_cost.py fails when one grows; lower them here when a change makes a path cheaper), "
    "and the median/p90 thread CPU ms and multiple of the ping's median CPU of the run that wrote it."
)


def summarise(measured: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per path: title, queries, p50/p90 CPU ms and the multiple of the ping's p50 (from ``measure.run``)."""
    ping = measured.get("ping")
    ping_p50 = ping.p50 if ping is not None else None
    out: dict[str, dict[str, Any]] = {}
    for key, m in measured.items():
        p50, p90 = m.p50, m.p90
        out[key] = {
            "title": m.path.title,
            "queries": m.queries,
            "queries_max": m.queries_max,
            "cpu_ms_p50": round(p50, 3) if p50 is not None else None,
            "cpu_ms_p90": round(p90, 3) if p90 is not None else None,
            "x_ping": round(p50 / ping_p50, 2) if p50 is not None and ping_p50 else None,
            "iterations": len(m.cpu_ms),
        }
    return out


def table(rows: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, vendor: str) -> str:
    """The printed table; ``baseline`` adds the baseline's query count and multiple for comparison."""
    known = (baseline or {}).get("paths", {})
    width = max([len(r["title"]) for r in rows.values()] + [4])
    head = f"{'path':<{width}}  {'CPU ms p50':>10}  {'p90':>7}  {'x ping':>6}  {'queries':>7}  {'baseline':>13}"
    lines = [head, "-" * len(head)]

    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for key, r in rows.items():
        base = known.get(key, {})
        base_q = base.get("queries", {}).get(vendor)
        base_x = base.get("x_ping")
        note = f"{fmt(base_q, 'd')} q, {fmt(base_x, '.1f')}x" if base else "-"
        if base_q is not None and r["queries"] is not None and r["queries"] > base_q:
            note += " MORE"
        lines.append(
            f"{r['title']:<{width}}  {fmt(r['cpu_ms_p50'], '.2f'):>10}  {fmt(r['cpu_ms_p90'], '.2f'):>7}  "
            f"{fmt(r['x_ping'], '.1f'):>6}  {fmt(r['queries'], 'd'):>7}  {note:>13}"
        )
    return "\n".join(lines)


def grown(rows: dict[str, dict[str, Any]], baseline: dict[str, Any], vendor: str) -> list[str]:
    """Paths whose query count is above the baseline's for ``vendor``, as messages."""
    out = []
    for key, r in rows.items():
        base_q = baseline.get("paths", {}).get(key, {}).get("queries", {}).get(vendor)
        if base_q is not None and r["queries"] is not None and r["queries"] > base_q:
            out.append(f"{key}: {r['queries']} queries, baseline {base_q} ({vendor})")
    return out


def updated(
    previous: dict[str, Any] | None,
    rows: dict[str, dict[str, Any]],
    *,
    vendor: str,
    counts: dict[str, dict[str, int | None]],
    run: dict[str, Any],
) -> dict[str, Any]:
    """The new baseline: this run's figures, and the query counts per vendor (``counts``: vendor ->
    path -> count; vendors not counted this time keep their previous counts)."""
    old_paths = (previous or {}).get("paths", {})
    paths: dict[str, Any] = {}
    for p in PATHS:
        r = rows.get(p.key)
        old = old_paths.get(p.key, {})
        if r is None and not old:
            continue
        queries = dict(old.get("queries", {}))
        for v, per_path in counts.items():
            if per_path.get(p.key) is not None:
                queries[v] = per_path[p.key]
        entry: dict[str, Any] = {"title": p.title, "queries": dict(sorted(queries.items()))}
        source = r if r is not None else old
        for name in ("cpu_ms_p50", "cpu_ms_p90", "x_ping"):
            entry[name] = source.get(name)
        paths[p.key] = entry
    return {"about": ABOUT, "run": {**run, "vendor": vendor}, "paths": paths}
