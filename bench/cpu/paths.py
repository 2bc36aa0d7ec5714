"""What each measured path sends: the requests of its n-th iteration, built from the seed.

Every iteration is a real, valid request that a partner, a device or a person
would send, authenticated the way they are: the partner's API key in the
``Authorization`` header, the reader's device key, or the supervisor's session
(with the CSRF cookie and header for the station actions). Each iteration
changes state the way the next one can repeat: transfers go back and forth
between two stocked bins, receipts and uploads are new each time, and each
step iteration starts and completes the first step of its own fresh order.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Seed = dict[str, Any]

UPLOAD_READS = 20


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    content_type: str = "application/json"
    expect: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class Path:
    key: str
    title: str
    #: "api" (no cookies: key authentication) or "session" (the supervisor's session and CSRF cookies)
    client: str
    make: Callable[[Seed, int], list[Call]]
    #: a sanity check of one response body (None when it is as expected, else what is wrong)
    check: Callable[[bytes], str | None] | None = None


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _partner(seed: Seed) -> dict[str, str]:
    return {"Authorization": f"Bearer {seed['partner_key']}", "Accept": "application/json"}


def _ping(seed: Seed, n: int) -> list[Call]:
    return [Call("GET", "/api/v1/ping/", _partner(seed))]


def _transfer(seed: Seed, n: int) -> list[Call]:
    t = seed["inventory"]["transfer"]
    src, dst = (t["a"], t["b"]) if n % 2 == 0 else (t["b"], t["a"])  # back and forth: stock never runs out
    body = {
        "kind": "transfer",
        "item": t["item"],
        "quantity": "1",
        "source": src,
        "destination": dst,
        "reference": f"CPU-T-{n}",
    }
    headers = {**_partner(seed), "Idempotency-Key": str(uuid.uuid4())}
    return [Call("POST", "/api/v1/inventory/moves/", headers, _json(body), expect=(201,))]


def _receipt(seed: Seed, n: int) -> list[Call]:
    inv = seed["inventory"]
    items, bins = inv["items"], inv["receipt_bins"]
    lines = [{"item": items[i % len(items)], "quantity": "5", "location": bins[(n + i) % len(bins)]} for i in range(10)]
    body = {"site": seed["site"], "reference": f"PO-CPU-{n}", "partner": "bench supplier", "lines": lines}
    headers = {**_partner(seed), "Idempotency-Key": str(uuid.uuid4())}
    return [Call("POST", "/api/v1/inventory/receipts/", headers, _json(body), expect=(201,))]


def _levels_list(seed: Seed, n: int) -> list[Call]:
    return [Call("GET", f"/api/v1/inventory/levels/?within={seed['inventory']['levels_within']}", _partner(seed))]


def _fifty_rows(content: bytes) -> str | None:
    body = json.loads(content)
    rows = body.get("results") if isinstance(body, dict) else body
    return None if isinstance(rows, list) and len(rows) == 50 else f"expected 50 rows, got {len(rows or [])}"


def _item_levels(seed: Seed, n: int) -> list[Call]:
    sku = seed["inventory"]["transfer"]["item"]
    return [Call("GET", f"/api/v1/inventory/levels/?item={sku}&site={seed['site']}", _partner(seed))]


def _step(seed: Seed, n: int) -> list[Call]:
    wip = seed["wip"]
    run = wip["first_runs"][n]
    headers = {"Accept": "application/json", "X-CSRFToken": wip["csrf"]}
    return [
        Call("POST", f"/api/v1/wip/runs/{run}/start/", headers, _json({})),
        Call("POST", f"/api/v1/wip/runs/{run}/complete/", headers, _json({"good_quantity": "1"})),
    ]


def _page(path: str) -> Callable[[Seed, int], list[Call]]:
    return lambda seed, n: [Call("GET", path, {"Accept": "text/html"})]


def _station(seed: Seed, n: int) -> list[Call]:
    return [Call("GET", f"/wip/stations/{seed['wip']['station']}/", {"Accept": "text/html"})]


def _upload(seed: Seed, n: int) -> list[Call]:
    """A Zebra IoT Connector batch of 20 reads on the reader's antenna 1; event numbers go on, so
    each upload is a new one (its key is the body's hash), never a retry."""
    at = dt.datetime.now(dt.UTC)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    events = [
        {
            "type": "SIMPLE",
            "timestamp": stamp,
            "data": {
                "eventNum": n * UPLOAD_READS + i,
                "format": "epc",
                "idHex": f"E2C0{i:020X}",
                "antenna": 1,
                "peakRssi": -52,
                "reads": 1,
            },
        }
        for i in range(UPLOAD_READS)
    ]
    headers = {"Authorization": f"Bearer {seed['device']['key']}", "Accept": "application/json"}
    return [Call("POST", "/api/v1/devices/uploads/", headers, _json(events), expect=(202,))]


PATHS: list[Path] = [
    Path("ping", "authenticated no-op (partner key)", "api", _ping),
    Path("transfer", "single-item transfer, Idempotency-Key", "api", _transfer),
    Path("receipt", "10-line receipt, Idempotency-Key", "api", _receipt),
    Path("levels_list", "levels list, 50 rows (location subtree)", "api", _levels_list, check=_fifty_rows),
    Path("item_levels", "one item's levels across a site", "api", _item_levels),
    Path("wip_step", "work-order step start + complete (session)", "session", _step),
    Path("wip_board", "WIP board page", "session", _page("/wip/")),
    Path("station", "station page", "session", _station),
    Path("plant", "plant dashboard page", "session", _page("/devices/live/plant/")),
    Path("upload", "device upload, 20 reads (device key)", "api", _upload),
]
KEYS = [p.key for p in PATHS]


def chosen(only: str = "") -> list[Path]:
    """The paths named in ``only`` (comma-separated; all when empty); the ping always, first."""
    wanted = {k.strip() for k in only.split(",") if k.strip()}
    unknown = wanted - set(KEYS)
    if unknown:
        raise ValueError(f"no path {', '.join(sorted(unknown))}; there are: {', '.join(KEYS)}")
    return [p for p in PATHS if not wanted or p.key in wanted or p.key == "ping"]
