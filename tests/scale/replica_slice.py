"""Reports on a streaming replica while postings go to the primary, for
``test_replica.py``: run as ``python -m tests.scale.replica_slice`` with ``DATABASE_URL``
(the primary) and ``DATABASE_REPLICA_URL`` (its hot standby). Prints one JSON object.

Each request's SQL is captured per database alias: the report, the EPCIS query and the
posting say where their statements went, and each server says whether it is in recovery
(a standby) so the aliases are known to be two different servers.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from decimal import Decimal
from typing import Any


def _tables(queries: list[dict[str, Any]]) -> list[str]:
    import re

    return sorted({t for q in queries for t in re.findall(r'"((?:inventory|wip|tracker)_[a-z_]+)"', q["sql"])})


def run() -> dict[str, Any]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from inventory import services
    from inventory.models import Item, StockMove
    from tests.factories.tracker import user_with_role
    from tracker import services as core
    from tracker.models import ApiKeyScope
    from tracker.roles import sync_roles

    out: dict[str, Any] = {}
    for alias in ("default", "replica"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), current_setting('port')")
            out[f"{alias}_in_recovery"], out[f"{alias}_port"] = cursor.fetchone()

    sync_roles()
    site = core.site_create(code="replica-site", name="Replica plant", time_zone="UTC")
    bins = [core.location_create(site=site, code=f"RP-B{i}", name=f"Bin {i}", kind="bin") for i in range(2)]
    item = Item.objects.create(sku="RP-ITEM", name="replicated item")
    services.stock_receive(item=item, quantity=Decimal(100), location=bins[0])
    partner = user_with_role("partner", site)
    _, secret = core.api_key_create(user=partner, name="reports", scopes=list(ApiKeyScope.values))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    deadline = time.monotonic() + 20  # the standby replays the primary's WAL within moments
    while not StockMove.objects.using("replica").filter(item__sku="RP-ITEM").exists():
        if time.monotonic() > deadline:
            raise SystemExit("the replica never caught up")
        time.sleep(0.1)

    def captured(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with (
            CaptureQueriesContext(connections["default"]) as primary,
            CaptureQueriesContext(connections["replica"]) as replica,
        ):
            response = getattr(client, method)(path, **kwargs)
            if response.streaming:  # a CSV export queries as it streams
                b"".join(response.streaming_content)
        return {
            "status": response.status_code,
            "primary_tables": _tables(primary.captured_queries),
            "replica_tables": _tables(replica.captured_queries),
            "replica_writes": [
                q["sql"][:80]
                for q in replica.captured_queries
                if q["sql"].lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"}
            ],
        }

    out["report"] = captured("get", f"/api/v1/inventory/analytics/stock-value/?site={site.code}")
    out["report_rows"] = client.get(f"/api/v1/inventory/analytics/stock-value/?site={site.code}").json()
    out["epcis"] = captured("get", "/api/v1/epcis/events")
    out["export"] = captured("get", "/api/v1/inventory/moves/export/")
    body = {"kind": "transfer", "item": item.sku, "quantity": "5", "source": bins[0].code, "destination": bins[1].code}
    out["posting"] = captured(
        "post", "/api/v1/inventory/moves/", data=body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    return out


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(run(), default=str))


if __name__ == "__main__":
    main()
