"""Property-based: random sequences of stock operations keep the ledger invariant.

A model of expected quantities runs beside the services; after every step
the ledger sums equal the levels and the reports' daily rollup, partly merged
or not, equals the ledger (``ledger_differences() == []``), the levels
equal the model, and an operation fails with ``insufficient_stock`` exactly
when the model says there is not enough.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from inventory import errors, services, stock_daily
from inventory.models import Item, Lot, SerialUnit, StockLevel
from inventory.selectors import available_quantity, ledger_differences
from tests.factories.tracker import LocationFactory, SiteFactory

quantities = st.integers(min_value=1, max_value=40).map(D)


class LedgerMachine(RuleBasedStateMachine):
    counter = 0

    def __init__(self):
        super().__init__()
        # Each run is one savepoint, rolled back in teardown: runs do not see each other.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.expected: dict[tuple[int, int, int | None], D] = defaultdict(D)
        self.reservations: list[tuple[str, D]] = []  # open reservations of the plain item at site A

    @initialize()
    def world(self):
        LedgerMachine.counter += 1
        n = LedgerMachine.counter
        self.site_a = SiteFactory(code=f"pa-{n}")
        self.site_b = SiteFactory(code=f"pb-{n}")
        self.locations = [
            LocationFactory(site=self.site_a, code=f"PA{n}-1"),
            LocationFactory(site=self.site_a, code=f"PA{n}-2"),
            LocationFactory(site=self.site_b, code=f"PB{n}-1"),
        ]
        self.plain = Item.objects.create(sku=f"P-{n}", name="plain", unit="kg")
        self.lotted = Item.objects.create(sku=f"L-{n}", name="lotted", tracking="lot")
        self.lots: list[Lot] = []
        self.serialised = Item.objects.create(sku=f"S-{n}", name="serialised", tracking="serial")
        self.serial_at: dict[str, int] = {}  # serial -> index of its location (in stock only)
        self.serial_no = 0

    @rule(loc=st.integers(0, 2), n=st.integers(1, 3))
    def receive_serials(self, loc, n):
        codes = [f"SN{self.serial_no + i}" for i in range(n)]
        self.serial_no += n
        location = self.locations[loc]
        services.stock_receive(item=self.serialised, quantity=D(n), location=location, serials=codes)
        for code in codes:
            self.serial_at[code] = loc
        self.expected[(self.serialised.pk, location.pk, None)] += n

    @rule(pick=st.integers(0, 1000), dst=st.integers(0, 2), ship=st.booleans())
    def move_serial(self, pick, dst, ship):
        if not self.serial_at:
            return
        code = sorted(self.serial_at)[pick % len(self.serial_at)]
        src = self.serial_at[code]
        source = self.locations[src]
        if ship:
            services.stock_ship(item=self.serialised, quantity=D(1), location=source, serials=[code])
            del self.serial_at[code]
        elif dst != src:
            services.stock_transfer(
                item=self.serialised, quantity=D(1), source=source, destination=self.locations[dst], serials=[code]
            )
            self.serial_at[code] = dst
            self.expected[(self.serialised.pk, self.locations[dst].pk, None)] += 1
        else:
            with pytest.raises(errors.InvalidLocation):
                services.stock_transfer(
                    item=self.serialised, quantity=D(1), source=source, destination=source, serials=[code]
                )
            return
        self.expected[(self.serialised.pk, source.pk, None)] -= 1

    def _expect_ok(self, key, qty) -> bool:
        return self.expected[key] >= qty

    def _available_a(self) -> D:
        on_hand = sum((self.expected[(self.plain.pk, loc.pk, None)] for loc in self.locations[:2]), D(0))
        return on_hand - sum((q for _, q in self.reservations), D(0))

    def _respects_reservations(self, item, source_index, destination_index=None) -> bool:
        """Issue/ship from site A, or a transfer out of site A, must leave reserved stock alone."""
        leaves_a = source_index < 2 and (destination_index is None or destination_index == 2)
        return item is self.plain and leaves_a

    @rule(qty=quantities)
    def reserve(self, qty):
        ref = f"WO-{len(self.reservations)}-{qty}"
        if self._available_a() >= qty:
            services.stock_reserve(item=self.plain, quantity=qty, site=self.site_a, reference=ref)
            self.reservations.append((ref, qty))
        else:
            with pytest.raises(errors.InsufficientStock):
                services.stock_reserve(item=self.plain, quantity=qty, site=self.site_a, reference=ref)

    @rule(pick=st.integers(0, 100))
    def release(self, pick):
        if not self.reservations:
            return
        ref, _ = self.reservations.pop(pick % len(self.reservations))
        assert services.stock_release_reservation(reference=ref) == 1

    @rule(loc=st.integers(0, 2), qty=quantities, lotted=st.booleans(), lot_no=st.integers(0, 2))
    def receive(self, loc, qty, lotted, lot_no):
        location = self.locations[loc]
        if lotted:
            moves = services.stock_receive(item=self.lotted, quantity=qty, location=location, lot_code=f"LOT{lot_no}")
            lot = moves[0].lot
            if lot not in self.lots:
                self.lots.append(lot)
            self.expected[(self.lotted.pk, location.pk, lot.pk)] += qty
        else:
            services.stock_receive(item=self.plain, quantity=qty, location=location)
            self.expected[(self.plain.pk, location.pk, None)] += qty

    def _pick(self, lotted, lot_no):
        if lotted:
            if not self.lots:
                return None, None
            return self.lotted, self.lots[lot_no % len(self.lots)]
        return self.plain, None

    @rule(src=st.integers(0, 2), dst=st.integers(0, 2), qty=quantities, lotted=st.booleans(), lot_no=st.integers(0, 2))
    def transfer(self, src, dst, qty, lotted, lot_no):
        item, lot = self._pick(lotted, lot_no)
        if item is None or src == dst:
            return
        source, destination = self.locations[src], self.locations[dst]
        key = (item.pk, source.pk, lot.pk if lot else None)
        ok = self._expect_ok(key, qty)
        if ok and self._respects_reservations(item, src, dst):
            ok = self._available_a() >= qty
        if ok:
            services.stock_transfer(item=item, quantity=qty, source=source, destination=destination, lot=lot)
            self.expected[key] -= qty
            self.expected[(item.pk, destination.pk, key[2])] += qty
        else:
            with pytest.raises(errors.InsufficientStock):
                services.stock_transfer(item=item, quantity=qty, source=source, destination=destination, lot=lot)

    @rule(
        loc=st.integers(0, 2),
        qty=quantities,
        lotted=st.booleans(),
        lot_no=st.integers(0, 2),
        how=st.sampled_from(["issue", "ship", "scrap"]),
    )
    def consume(self, loc, qty, lotted, lot_no, how):
        item, lot = self._pick(lotted, lot_no)
        if item is None:
            return
        location = self.locations[loc]
        key = (item.pk, location.pk, lot.pk if lot else None)
        call = {"issue": services.stock_issue, "ship": services.stock_ship, "scrap": services.stock_scrap}[how]
        ok = self._expect_ok(key, qty)
        if ok and how != "scrap" and self._respects_reservations(item, loc):
            ok = self._available_a() >= qty
        if ok:
            call(item=item, quantity=qty, location=location, lot=lot)
            self.expected[key] -= qty
        else:
            with pytest.raises(errors.InsufficientStock):
                call(item=item, quantity=qty, location=location, lot=lot)

    @rule(loc=st.integers(0, 2), delta=st.integers(-30, 30).filter(bool).map(D))
    def adjust(self, loc, delta):
        location = self.locations[loc]
        key = (self.plain.pk, location.pk, None)
        if self.expected[key] + delta >= 0:
            services.stock_adjust(item=self.plain, location=location, quantity_delta=delta, reason="prop")
            self.expected[key] += delta
        else:
            with pytest.raises(errors.InsufficientStock):
                services.stock_adjust(item=self.plain, location=location, quantity_delta=delta, reason="prop")

    @rule(batch=st.integers(1, 20))
    def merge_daily_rollup(self, batch):
        stock_daily.merge(batch=batch)

    @invariant()
    def ledger_holds(self):
        if not hasattr(self, "plain"):
            return
        assert ledger_differences() == []
        levels = {
            (lv.item_id, lv.location_id, lv.lot_id): lv.on_hand
            for lv in StockLevel.objects.filter(
                item__in=[self.plain, self.lotted, self.serialised], location__is_virtual=False
            )
        }
        for key, qty in self.expected.items():
            assert levels.get(key, D(0)) == qty, key
        assert all(v >= 0 for v in levels.values())
        assert available_quantity(item=self.plain, site=self.site_a) == self._available_a()
        in_stock = dict(
            SerialUnit.objects.filter(item=self.serialised, status="in_stock").values_list("serial", "location_id")
        )
        assert in_stock == {code: self.locations[i].pk for code, i in self.serial_at.items()}

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)


@pytest.mark.django_db
def test_random_operation_sequences_keep_the_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
