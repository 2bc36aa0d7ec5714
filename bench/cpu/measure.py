"""Drive the paths in-process and measure each request's thread CPU and queries.

The requests go through Django's test client: the whole middleware stack, the
URL resolver, DRF's authentication, throttling and content negotiation, the
views and the templates, exactly as a served request (only the socket and the
server's own work are left out). CPU is ``time.thread_time()`` around the
client call, so waiting on PostgreSQL and Redis does not count; queries are
counted with ``CaptureQueriesContext`` on separate iterations, because its
debug cursor adds CPU of its own (the profile's timer is thread CPU too).

Order of work: warm-up iterations of every path; ``count`` iterations of each
under ``CaptureQueriesContext`` (the smallest count is the path's count, see
``Measured.queries``, and each response is checked); then the timed iterations, round robin over the
paths so that a change in the machine's load touches every path alike (the
ratios to the ping are what stays comparable from one run to the next).
"""

from __future__ import annotations

import cProfile
import io
import math
import os
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.cpu.paths import Call, Path, Seed


class RequestFailed(Exception):
    """A request answered something other than what its path expects: the figures would be wrong."""


@dataclass
class Measured:
    path: Path
    cpu_ms: list[float] = field(default_factory=list)
    query_counts: list[int] = field(default_factory=list)

    @property
    def queries(self) -> int | None:
        """The fewest of the counted iterations: the steady state. A key's ``last_used_at`` touch
        (one UPDATE per key every ``API_KEY_TOUCH_SECONDS``) lands in at most one of a few
        consecutive iterations, so it never makes the count depend on timing."""
        return min(self.query_counts) if self.query_counts else None

    @property
    def queries_max(self) -> int | None:
        return max(self.query_counts) if self.query_counts else None

    @property
    def p50(self) -> float | None:
        return statistics.median(self.cpu_ms) if self.cpu_ms else None

    @property
    def p90(self) -> float | None:
        if not self.cpu_ms:
            return None
        ordered = sorted(self.cpu_ms)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def iterations_needed(*, warmup: int, count: int, iterations: int, profile_iterations: int = 0) -> int:
    """Iterations each path makes in all (the step path needs one fresh order for each)."""
    return warmup + count + iterations + profile_iterations


def clients(seed: Seed) -> dict[str, Client]:
    """One client for key-authenticated calls (no cookies) and one with the supervisor's session.

    The session client enforces CSRF as a browser's requests meet it: the cookie and the
    ``X-CSRFToken`` header the page's script sends carry the same secret.
    """
    session = Client(enforce_csrf_checks=True)
    for name, value in seed["supervisor_cookie"].items():
        session.cookies[name] = value
    session.cookies[settings.CSRF_COOKIE_NAME] = seed["wip"]["csrf"]
    return {"api": Client(), "session": session}


def send(client: Client, call: Call) -> tuple[float, bytes]:
    """One request; (thread CPU seconds, response body). Raises ``RequestFailed`` on an unexpected status."""
    started = time.thread_time()
    response = client.generic(call.method, call.path, call.body, content_type=call.content_type, headers=call.headers)
    cpu = time.thread_time() - started
    if response.status_code not in call.expect:
        raise RequestFailed(f"{call.method} {call.path} -> {response.status_code}: {response.content[:300]!r}")
    return cpu, response.content


class Runner:
    """Each path's iterations in order (the n-th builds the n-th requests: fresh orders, new keys)."""

    def __init__(self, seed: Seed, paths: list[Path]) -> None:
        self.seed = seed
        self.paths = paths
        self.clients = clients(seed)
        self.done = dict.fromkeys((p.key for p in paths), 0)

    def once(self, path: Path, *, check: bool = False) -> float:
        calls = path.make(self.seed, self.done[path.key])
        self.done[path.key] += 1
        cpu = 0.0
        for call in calls:
            spent, content = send(self.clients[path.client], call)
            cpu += spent
            if check and path.check is not None:
                problem = path.check(content)
                if problem:
                    raise RequestFailed(f"{path.key}: {problem}")
        return cpu


def run(
    seed: Seed,
    paths: list[Path],
    *,
    warmup: int,
    count: int,
    iterations: int,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Measured]:
    """Warm up, count queries, then time ``iterations`` of every path (see the module docstring)."""
    runner = Runner(seed, paths)
    results = {p.key: Measured(p) for p in paths}
    for _ in range(warmup):
        for path in paths:
            runner.once(path)
    for path in paths:
        for _ in range(count):
            with CaptureQueriesContext(connection) as ctx:
                runner.once(path, check=True)
            results[path.key].query_counts.append(len(ctx.captured_queries))
    step = max(1, iterations // 4)
    for i in range(iterations):
        for path in paths:
            results[path.key].cpu_ms.append(runner.once(path) * 1000)
        if progress is not None and (i + 1) % step == 0 and i + 1 < iterations:
            progress(f"  {i + 1}/{iterations} iterations")
    return results


def profile(seed: Seed, path: Path, *, iterations: int, skip: int, limit: int = 40) -> str:
    """cProfile ``iterations`` more iterations of one path (after ``skip`` already made): the top
    functions by own time and by cumulative time, as text."""
    runner = Runner(seed, [path])
    runner.done[path.key] = skip
    profiler = cProfile.Profile(time.thread_time)  # CPU, as measured: waiting on the database is not a cost here
    for _ in range(iterations):
        profiler.enable()
        runner.once(path)
        profiler.disable()
    dump = os.environ.get("BENCH_PROFILE_DUMP")
    if dump:  # the raw stats, for pstats' callers/callees views
        profiler.dump_stats(dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"== {path.key}: {iterations} iterations, by own time\n")
    stats.sort_stats("tottime").print_stats(limit)
    out.write(f"== {path.key}: by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()
