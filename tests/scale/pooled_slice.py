"""A representative slice of Shopfloor run with the process's own settings, for
``test_pgbouncer.py``: run as ``python -m tests.scale.pooled_slice <prefix>`` with
``DATABASE_URL`` pointing at PgBouncer (transaction pooling) and
``DATABASE_POOLER=pgbouncer``. Prints one JSON object of what it saw.

The slice: a receipt posted through the API; concurrent transfers from several threads
(each its own client connection, multiplexed by PgBouncer over fewer server
connections); a create retried with the same Idempotency-Key; a report and the moves
export (which would open a server-side cursor without DISABLE_SERVER_SIDE_CURSORS).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import uuid
from decimal import Decimal
from typing import Any

THREADS = 6
TRANSFERS_PER_THREAD = 12


def run(prefix: str) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, transaction
    from rest_framework.test import APIClient

    from inventory import errors, services
    from inventory.models import Item, StockLevel, StockMove
    from inventory.selectors import ledger_differences
    from tests.factories.tracker import user_with_role
    from tracker import services as core
    from tracker.models import ApiKeyScope
    from tracker.roles import sync_roles

    sync_roles()
    site = core.site_create(code=f"{prefix}-site", name="Pooled plant", time_zone="UTC")
    bins = [core.location_create(site=site, code=f"{prefix}-B{i}", name=f"Bin {i}", kind="bin") for i in range(3)]
    item = Item.objects.create(sku=f"{prefix}-ITEM", name="pooled item")
    partner = user_with_role("partner", site)
    _, secret = core.api_key_create(user=partner, name="pooled", scopes=list(ApiKeyScope.values))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    out: dict[str, Any] = {
        "prepare_threshold": settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold", "unset"),
        "server_side_cursors_disabled": settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS", False),
    }

    receipt = {
        "site": site.code,
        "reference": f"PO-{prefix}",
        "partner": "supplier",
        # Every bin holds stock before the threads start: with a level row still to create, concurrent
        # transfers can deadlock on PostgreSQL itself, pooled or not (reported; inventory/locks.py).
        "lines": [{"item": item.sku, "quantity": "100", "location": b.code} for b in bins],
    }
    response = client.post(
        "/api/v1/inventory/receipts/", receipt, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    out["receipt_status"] = response.status_code

    failures: list[str] = []
    refused = [0]
    barrier = threading.Barrier(THREADS)

    def mover(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(TRANSFERS_PER_THREAD):
                src, dst = rnd.sample(bins, 2)
                try:
                    with transaction.atomic():
                        services.stock_transfer(
                            item=item, quantity=Decimal(rnd.randint(1, 40)), source=src, destination=dst
                        )
                except errors.InsufficientStock:
                    refused[0] += 1
        except Exception as exc:  # reported by the main thread
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=mover, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["transfer_failures"] = failures
    out["transfers"] = StockMove.objects.filter(item=item, kind="transfer").count()
    out["transfers_refused"] = refused[0]
    out["on_hand"] = str(sum((lv.on_hand for lv in StockLevel.objects.filter(item=item)), Decimal(0)))
    out["ledger_differences"] = len(ledger_differences())

    key = str(uuid.uuid4())
    body = {"kind": "transfer", "item": item.sku, "quantity": "1", "source": bins[0].code}
    body |= {"destination": bins[1].code, "reference": f"RETRY-{prefix}"}
    first = client.post("/api/v1/inventory/moves/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post("/api/v1/inventory/moves/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    out["retry_statuses"] = [first.status_code, again.status_code]
    out["retry_same_answer"] = first.json() == again.json()
    out["retry_moves"] = StockMove.objects.filter(reference=f"RETRY-{prefix}").count()

    report = client.get(f"/api/v1/inventory/analytics/stockouts/?site={site.code}")
    out["report_status"] = report.status_code
    export = client.get("/api/v1/inventory/moves/export/")
    out["export_status"] = export.status_code
    out["export_lines"] = len(b"".join(export.streaming_content).splitlines()) if export.streaming else -1
    with connection.cursor() as cursor:
        cursor.execute("SHOW port")  # what the server says: PgBouncer passes this to PostgreSQL
        out["server_port"] = cursor.fetchone()[0]
    out["client_port"] = connection.settings_dict["PORT"]
    return out


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(run(sys.argv[1])))


if __name__ == "__main__":
    main()
