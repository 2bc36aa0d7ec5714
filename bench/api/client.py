"""A bounded HTTP load client: a fixed number of connections for a fixed time, to 127.0.0.1 only.

Each of ``concurrency`` workers sends its next request as soon as the previous
answer arrives (closed loop), over its own keep-alive connection. Requests
in the warm-up are sent but not counted. Latency is measured per request on
the client (monotonic clock), so it includes the server's queueing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ALLOWED_HOSTS = {"127.0.0.1"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    #: what one successful request accomplishes (moves, steps...), for the figure
    units: int = 1
    expect: tuple[int, ...] = (200,)


@dataclass
class Outcome:
    requests: int = 0
    #: every answered request, the warm-up's included (what the server's CPU time was spent on)
    answered: int = 0
    #: requests answered inside the timed window, however early they were sent
    answered_in_window: int = 0
    ok: int = 0
    errors: int = 0
    units: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None

        return {
            "requests": self.requests,
            "answered": self.answered,
            "answered_in_window": self.answered_in_window,
            "ok": self.ok,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "req_per_s": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "units_per_s": round(self.units / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "statuses": dict(self.statuses),
            "error_samples": self.samples[:3],
        }


def _check_url(base_url: str) -> None:
    host = urlsplit(base_url).hostname
    if host not in ALLOWED_HOSTS:
        raise ValueError(f"the load client only drives 127.0.0.1, not {host!r}")


async def _drive(
    base_url: str,
    make: Callable[[int, int], Request],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    cookies: dict[str, str] | None,
    at_window_edges: Callable[[], None] | None,
) -> Outcome:
    _check_url(base_url)
    outcome = Outcome()
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    started = time.monotonic()
    measure_from = started + warmup
    stop_at = measure_from + duration
    cookie_header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())

    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def worker(wid: int) -> None:
            seq = 0
            while True:
                now = time.monotonic()
                if now >= stop_at:
                    return
                req = make(wid, seq)
                seq += 1
                headers = dict(req.headers)
                if cookie_header:
                    headers["Cookie"] = cookie_header
                data = None
                if req.json is not None:
                    data = json.dumps(req.json)
                    headers["Content-Type"] = "application/json"
                t0 = time.monotonic()
                status, error = 0, ""
                try:
                    async with session.request(
                        req.method, req.path, data=data, headers=headers, allow_redirects=False
                    ) as resp:
                        status = resp.status
                        body = await resp.read()
                        if status not in req.expect:
                            error = f"{req.method} {req.path} -> {status}: {body[:300]!r}"
                except (TimeoutError, aiohttp.ClientError) as exc:
                    error = f"{req.method} {req.path} -> {exc.__class__.__name__}: {exc}"
                t1 = time.monotonic()
                outcome.answered += 1
                if measure_from <= t1 <= stop_at:
                    outcome.answered_in_window += 1
                if t0 < measure_from or t1 > stop_at:
                    continue
                outcome.requests += 1
                outcome.statuses[status] += 1
                outcome.latencies_ms.append((t1 - t0) * 1000)
                if error:
                    outcome.errors += 1
                    if len(outcome.samples) < 5:
                        outcome.samples.append(error)
                else:
                    outcome.ok += 1
                    outcome.units += req.units

        async def edges(hook: Callable[[], None]) -> None:
            await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
            hook()
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
            hook()

        tasks = [worker(w) for w in range(concurrency)]
        await asyncio.gather(*tasks, *([edges(at_window_edges)] if at_window_edges else []))
    outcome.seconds = duration
    return outcome


def run_load(
    base_url: str,
    make: Callable[[int, int], Request],
    *,
    concurrency: int = 8,
    duration: float = 10.0,
    warmup: float = 2.0,
    cookies: dict[str, str] | None = None,
    at_window_edges: Callable[[], None] | None = None,
) -> Outcome:
    """Drive ``base_url`` with requests from ``make(worker, seq)``; bounded by concurrency and time.
    ``at_window_edges`` is called (on the client's loop) when the timed window opens and closes."""
    if not 1 <= concurrency <= 64 or not 0 < duration <= 60:
        raise ValueError("load is bounded: 1-64 connections, at most 60 s per scenario")
    runner: Callable[[Coroutine[Any, Any, Outcome]], Outcome]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # the plain loop is fine, just slower on the client side
        runner = asyncio.run
    drive = _drive(
        base_url,
        make,
        concurrency=concurrency,
        duration=duration,
        warmup=warmup,
        cookies=cookies,
        at_window_edges=at_window_edges,
    )
    return runner(drive)
