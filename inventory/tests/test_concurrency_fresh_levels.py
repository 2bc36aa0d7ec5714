"""PostgreSQL: concurrent transfers that must create level rows (fresh bins, a first trip into
transit) never deadlock and lose no update (``inventory.locks``: every missing row is inserted
before any row lock, then all rows are locked in one statement in pk order)."""

from __future__ import annotations

import threading
from collections import defaultdict
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum

from inventory import errors, services
from inventory.locks import lock_levels
from inventory.models import Item, StockLevel
from inventory.selectors import ledger_differences
from tests.factories.tracker import LocationFactory, SiteFactory

THREADS = 8
ROUNDS = 12
STEPS = 3  # transfers per thread per round: the first creates rows, the next ones cross them
START = D(10000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_crossing_transfers_into_fresh_bins_neither_deadlock_nor_lose_updates():
    north, south = SiteFactory(code="fresh-n"), SiteFactory(code="fresh-s")
    items = [Item.objects.create(sku=f"FRESH-{i}", name=f"fresh {i}") for i in range(2)]
    home = {
        north.pk: LocationFactory(site=north, code="FN-HOME"),
        south.pk: LocationFactory(site=south, code="FS-HOME"),
    }
    for item in items:
        for location in home.values():
            services.stock_receive(item=item, quantity=START, location=location)
    # Every round: new bins at each site that no transfer has touched, so each transfer of the round
    # creates (or meets another thread creating) its destination's level row.
    fresh = {
        (r, site.pk, n): LocationFactory(site=site, code=f"F{site.code[-1]}-{r}-{n}")
        for r in range(ROUNDS)
        for site in (north, south)
        for n in range(2)
    }
    moved: dict[int, D] = defaultdict(D)  # fresh location id -> quantity transferred in
    tally = threading.Lock()
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(k: int) -> None:
        try:
            for r in range(ROUNDS):
                barrier.wait()  # all threads start each round together, on the same fresh bins
                # Crossing pairs: half the threads send north -> south, half south -> north; the
                # two items each go both ways; half of the transfers stay inside their site.
                for step in range(STEPS):
                    j = k + step
                    source_site, other_site = (north, south) if j % 2 else (south, north)
                    target_site = other_site if k % 4 < 2 else source_site
                    item = items[(j // 4) % 2]
                    destination = fresh[(r, target_site.pk, j % 2)]
                    with transaction.atomic():
                        services.stock_transfer(
                            item=item, quantity=D(1 + k % 3), source=home[source_site.pk], destination=destination
                        )
                    with tally:
                        moved[destination.pk] += D(1 + k % 3)
        except BaseException as exc:  # surfaced by the main thread
            failures.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == [], failures[:3]  # a deadlock surfaces here as an OperationalError
    for location_id, quantity in moved.items():
        level = StockLevel.objects.filter(location_id=location_id).aggregate(s=Sum("on_hand"))["s"]
        assert level == quantity  # no lost update
    assert sum(moved.values()) == sum(D(1 + k % 3) for k in range(THREADS)) * ROUNDS * STEPS
    for item in items:
        total = StockLevel.objects.filter(item=item).aggregate(s=Sum("on_hand"))["s"]
        assert total == 2 * START  # real locations and transit together: nothing made or lost
    assert not StockLevel.objects.filter(location__is_virtual=False, on_hand__lt=0).exists()
    assert ledger_differences() == []
    call_command("verify_ledger")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_threads_creating_one_level_make_one_row():
    site = SiteFactory(code="fresh-one")
    item = Item.objects.create(sku="FRESH-ONE", name="one")
    place = LocationFactory(site=site, code="FO-1")
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                levels = lock_levels([(item.pk, place.pk, None)], site_ids={place.pk: site.pk})
                assert levels[(item.pk, place.pk, None)].pk
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert StockLevel.objects.filter(item=item, location=place).count() == 1


@pytest.mark.django_db
def test_lock_levels_creates_missing_rows_and_returns_existing_ones(site_a):
    item = Item.objects.create(sku="FRESH-EMB", name="embedded")
    here, there = LocationFactory(site=site_a, code="FE-1"), LocationFactory(site=site_a, code="FE-2")
    services.stock_receive(item=item, quantity=D(5), location=here)
    with transaction.atomic():
        levels = lock_levels(
            [(item.pk, here.pk, None), (item.pk, there.pk, None)], site_ids={here.pk: site_a.pk, there.pk: site_a.pk}
        )
    assert levels[(item.pk, here.pk, None)].on_hand == D(5)
    assert levels[(item.pk, there.pk, None)].on_hand == D(0)
    assert StockLevel.objects.filter(item=item).count() == 2
    with pytest.raises(errors.InsufficientStock):
        services.stock_transfer(item=item, quantity=D(6), source=here, destination=there)
