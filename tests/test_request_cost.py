"""The CPU benchmark's paths (``python -m bench cpu``) never run more queries than its baseline.

The same seed, the same requests and the same clients as the benchmark
(``bench/cpu/``), with one warm-up and three counted iterations per path (the
fewest queries count, as in the benchmark: a key's periodic ``last_used_at``
touch is not the path's) and no timed ones: timings depend on the machine and are never asserted here. Query
counts can differ between database vendors, so ``bench/baselines/cpu.json``
keeps one count per vendor (PostgreSQL from the benchmark's run, SQLite from
its count-only run); this test compares with the current vendor's.

A transactional test, so each request commits as it does when served (inside
the usual test transaction every ``atomic`` would become a savepoint pair and
the counts would not be the benchmark's). ``real_worker``: the tasks a request
queues go to the broker as in production instead of running inside it.

When a change makes a path cheaper, lower its count with
``python -m bench cpu --update-baseline``; a path that needs more queries is
what this test is here to show in review.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from bench.cpu import baseline as bl
from bench.cpu import measure
from bench.cpu.paths import PATHS
from bench.cpu.seed import seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_worker, pytest.mark.slow]

WARMUP, COUNT = 1, 3


def test_no_path_runs_more_queries_than_its_baseline():
    baseline = json.loads(bl.BASELINE.read_text())
    vendor = connection.vendor
    counts = {key: entry["queries"].get(vendor) for key, entry in baseline["paths"].items()}
    if not any(v is not None for v in counts.values()):
        pytest.skip(f"bench/baselines/cpu.json has no {vendor} query counts")
    missing = [p.key for p in PATHS if counts.get(p.key) is None]
    assert not missing, f"no {vendor} baseline for {missing}: run python -m bench cpu --update-baseline"

    data = seed(step_orders=measure.iterations_needed(warmup=WARMUP, count=COUNT, iterations=0), board_orders=3)
    results = measure.run(data, PATHS, warmup=WARMUP, count=COUNT, iterations=0)
    rows = bl.summarise(results)

    assert not bl.grown(rows, baseline, vendor)
    assert all(r["queries"] is not None for r in rows.values())
