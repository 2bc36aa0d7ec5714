"""The API and pages benchmark's scenarios: what each sends, what it counts, its target.

A scenario names the URL paths it needs; when one does not resolve in this
build (its app has not landed yet) the scenario reports "n/a (endpoint
missing)" instead of failing. Requests come from ``make(seed)(worker, seq)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.api.client import Request

Seed = dict[str, Any]
Maker = Callable[[int, int], Request]


@dataclass
class Scenario:
    key: str
    title: str
    figure: str  # what the table shows: "req/s", "moves/s", "steps/s"
    needs: list[str]  # URL paths that must resolve
    make: Callable[[Seed], Maker]
    #: targets from the issues (units_per_s minimum, p95_ms maximum, of_ping: minimum share of the
    #: same run's ping throughput, #16's "under make serve")
    target: dict[str, float] = field(default_factory=dict)
    #: cookies to send (a session for pages and station actions), from the seed
    cookies: Callable[[Seed], dict[str, str]] | None = None
    check: Callable[[Any], str | None] | None = None  # sanity check of one response body
    needs_seed: str | None = None  # key in the seed that must be present


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


# --- the ceiling --------------------------------------------------------------------


def _ping(seed: Seed) -> Maker:
    headers = _bearer(seed["partner_key"])
    return lambda w, n: Request("GET", "/api/v1/ping/", headers)


# --- inventory ------------------------------------------------------------------------


def _transfer(seed: Seed) -> Maker:
    """Each worker moves one unit of its own item between its own two bins, back and forth,
    so stock never runs out and workers never queue on each other's rows."""
    headers = _bearer(seed["partner_key"])
    pairs = seed["inventory"]["transfer_pairs"]

    def make(w: int, n: int) -> Request:
        pair = pairs[w % len(pairs)]
        src, dst = (pair["a"], pair["b"]) if n % 2 == 0 else (pair["b"], pair["a"])
        body = {
            "kind": "transfer",
            "item": pair["item"],
            "quantity": "1",
            "source": src,
            "destination": dst,
            "reference": f"BENCH-T-{w}-{n}",
        }
        return Request(
            "POST",
            "/api/v1/inventory/moves/",
            {**headers, "Idempotency-Key": str(uuid.uuid4())},
            body,
            units=1,
            expect=(201,),
        )

    return make


def _receipt(seed: Seed) -> Maker:
    headers = _bearer(seed["partner_key"])
    inv = seed["inventory"]
    items, bins = inv["items"], inv["receipt_bins"]

    def make(w: int, n: int) -> Request:
        lines = [
            {
                "item": items[(w * 7 + n + i) % len(items)],
                "quantity": "5",
                "location": bins[(w * 3 + n + i) % len(bins)],
            }
            for i in range(10)
        ]
        body = {"site": seed["site"], "reference": f"PO-BENCH-{w}-{n}", "partner": "bench supplier", "lines": lines}
        return Request(
            "POST",
            "/api/v1/inventory/receipts/",
            {**headers, "Idempotency-Key": str(uuid.uuid4())},
            body,
            units=10,
            expect=(201,),
        )

    return make


def _levels_within(seed: Seed) -> Maker:
    headers = _bearer(seed["partner_key"])
    path = f"/api/v1/inventory/levels/?within={seed['inventory']['levels_within']}"
    return lambda w, n: Request("GET", path, headers)


def _fifty_rows(body: Any) -> str | None:
    rows = body.get("results") if isinstance(body, dict) else body
    return None if isinstance(rows, list) and len(rows) == 50 else f"expected 50 rows, got {len(rows or [])}"


def _ledger_levels(seed: Seed) -> Maker:
    headers = _bearer(seed["ledger"]["key"])
    skus, site = seed["ledger"]["skus"], seed["ledger"]["site"]
    return lambda w, n: Request(
        "GET", f"/api/v1/inventory/levels/?item={skus[(w + n) % len(skus)]}&site={site}", headers
    )


# --- wip ---------------------------------------------------------------------------------


def _step(seed: Seed) -> Maker:
    """Start then complete the next step of the worker's own orders (session + CSRF, as the
    operator station sends them); one step = two requests, counted on the complete."""
    wip = seed["wip"]
    runs = wip["runs"]
    chunk = max(1, (len(runs) // 8) // wip["per_worker_runs"] * wip["per_worker_runs"])
    headers = {"Accept": "application/json", **wip["csrf"]["header"]}

    def make(w: int, n: int) -> Request:
        step, phase = divmod(n, 2)
        run = runs[((w % 8) * chunk + step % chunk) % len(runs)]
        if phase == 0:
            return Request("POST", run["start"], headers, {}, units=0, expect=(200,))
        return Request("POST", run["complete"], headers, run["complete_body"], units=1, expect=(200,))

    return make


def _session(seed: Seed) -> dict[str, str]:
    return dict(seed["supervisor_cookie"])


def _session_csrf(seed: Seed) -> dict[str, str]:
    return {**seed["supervisor_cookie"], **seed["wip"]["csrf"]["cookie"]}


def _board(seed: Seed) -> Maker:
    wip = seed["wip"]
    headers = _bearer(seed["supervisor_key"])

    def make(w: int, n: int) -> Request:
        if n % 2 == 0:
            return Request("GET", wip["board_path"], {"Accept": "text/html"})
        return Request("GET", wip["dispatch_paths"][(w + n) % len(wip["dispatch_paths"])], headers)

    return make


SCENARIOS: list[Scenario] = [
    Scenario("ceiling", "authenticated DRF endpoint that does nothing (ceiling)", "req/s", ["/api/v1/ping/"], _ping),
    Scenario(
        "transfer",
        "single-item transfer by partner key, Idempotency-Key",
        "moves/s",
        ["/api/v1/inventory/moves/"],
        _transfer,
        {"units_per_s": 450, "p95_ms": 50, "of_ping": 0.5, "of_ping_p95_ms": 100},
        needs_seed="inventory",
    ),
    Scenario(
        "receipt",
        "10-line receipt (one request)",
        "moves/s",
        ["/api/v1/inventory/receipts/"],
        _receipt,
        {"units_per_s": 2000},
        needs_seed="inventory",
    ),
    Scenario(
        "levels_list",
        "stock levels list, 50 rows, location subtree",
        "req/s",
        ["/api/v1/inventory/levels/"],
        _levels_within,
        {"units_per_s": 230, "of_ping": 0.6, "of_ping_p95_ms": 100},
        check=_fifty_rows,
        needs_seed="inventory",
    ),
    Scenario(
        "wip_step",
        "work order step start + complete",
        "steps/s",
        ["/api/v1/wip/runs/1/start/", "/api/v1/wip/runs/1/complete/"],
        _step,
        cookies=_session_csrf,
        needs_seed="wip",
    ),
    Scenario(
        "wip_board",
        "WIP board page + dispatch list",
        "req/s",
        ["/wip/", "/api/v1/wip/workstations/X/dispatch/"],
        _board,
        cookies=_session,
        needs_seed="wip",
    ),
]

LEDGER_SCENARIO = Scenario(
    "ledger_levels_http",
    "levels of one item across a site at 10M moves (endpoint, 8 conns)",
    "req/s",
    ["/api/v1/inventory/levels/"],
    _ledger_levels,
    needs_seed="ledger",
)
