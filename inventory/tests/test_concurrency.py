"""PostgreSQL: many threads moving the same stock at once lose no update and never go negative."""

from __future__ import annotations

import random
import threading
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum

from inventory import errors, services
from inventory.models import Item, StockLevel, StockMove
from inventory.selectors import ledger_differences
from tests.factories.tracker import LocationFactory, SiteFactory

THREADS = 12
OPS_PER_THREAD = 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_issues_and_receipts():
    site_a, site_b = SiteFactory(code="conc-a"), SiteFactory(code="conc-b")
    bins = [LocationFactory(site=site_a, code=f"CA-{i}") for i in range(3)]
    far = LocationFactory(site=site_b, code="CB-1")
    plain = Item.objects.create(sku="CONC-P", name="plain")
    lotted = Item.objects.create(sku="CONC-L", name="lotted", tracking="lot")
    services.stock_receive(item=plain, quantity=D(100), location=bins[0])
    services.stock_receive(item=lotted, quantity=D(60), location=bins[0], lot_code="L1")
    services.stock_receive(item=lotted, quantity=D(60), location=bins[0], lot_code="L2")

    ledger = {"received": D(0), "consumed": D(0), "refused": 0}
    tally = threading.Lock()
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(OPS_PER_THREAD):
                op = rnd.choice(
                    ["transfer", "transfer", "issue", "issue", "receive", "far", "fefo", "reserve", "release"]
                )
                qty = D(rnd.randint(1, 15))
                src, dst = rnd.sample(bins, 2)
                try:
                    with transaction.atomic():
                        if op == "transfer":
                            services.stock_transfer(item=plain, quantity=qty, source=src, destination=dst)
                        elif op == "far":
                            services.stock_transfer(item=plain, quantity=qty, source=src, destination=far)
                        elif op == "issue":
                            services.stock_issue(item=plain, quantity=qty, location=src, reference=f"WO-{seed}")
                            with tally:
                                ledger["consumed"] += qty
                        elif op == "reserve":
                            services.stock_reserve(item=plain, quantity=qty, site=site_a, reference=f"WO-{seed}")
                        elif op == "release":
                            services.stock_release_reservation(reference=f"WO-{seed}")
                        elif op == "fefo":
                            services.stock_issue(item=lotted, quantity=qty, location=bins[0])
                        else:
                            services.stock_receive(item=plain, quantity=qty, location=dst)
                            with tally:
                                ledger["received"] += qty
                except errors.InsufficientStock:
                    with tally:
                        ledger["refused"] += 1
        except BaseException as exc:  # surfaced by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert StockMove.objects.filter(kind="transfer").count() > THREADS  # the run did real work, not only refusals
    total = StockLevel.objects.filter(item=plain, location__is_virtual=False).aggregate(s=Sum("on_hand"))["s"]
    in_transit = StockLevel.objects.filter(item=plain, location__kind="transit").aggregate(s=Sum("on_hand"))["s"] or 0
    assert total + in_transit == D(100) + ledger["received"] - ledger["consumed"]
    assert not StockLevel.objects.filter(location__is_virtual=False, on_hand__lt=0).exists()
    lotted_left = StockLevel.objects.filter(item=lotted, location__is_virtual=False).aggregate(s=Sum("on_hand"))["s"]
    lotted_issued = StockMove.objects.filter(item=lotted, kind="issue").aggregate(s=Sum("quantity"))["s"] or 0
    assert lotted_left + lotted_issued == D(120)
    assert ledger_differences() == []
    call_command("verify_ledger")
    # Reservations never promised more than the site held.
    from inventory.selectors import available_quantity

    assert available_quantity(item=plain, site=site_a) >= 0
