"""Stock services: the rules each one enforces and the ledger they leave behind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import errors, services
from inventory.models import ImmutableError, Item, Lot, SerialUnit, StockLevel, StockMove
from inventory.selectors import available_quantity, fefo_lots, ledger_differences
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tracker.models import Alert
from tracker.services import virtual_location

pytestmark = pytest.mark.django_db


def level(item, location, lot=None):
    row = StockLevel.objects.filter(item=item, location=location, lot=lot).first()
    return row.on_hand if row else D(0)


def test_receive_posts_double_entry_move_and_level(bins):
    _, bin1, _ = bins
    item = ItemFactory()
    [move] = receive(item, bin1, 5, reference="PO-1", supplier="ACME")
    assert move.source == virtual_location(site=bin1.site, kind="supplier")
    assert move.destination == bin1 and move.quantity == D(5) and move.reference == "PO-1"
    assert level(item, bin1) == 5
    assert ledger_differences() == []


def test_transfer_within_site_moves_stock(bins):
    _, bin1, bin2 = bins
    item = ItemFactory()
    receive(item, bin1, 10)
    services.stock_transfer(item=item, quantity=D(4), source=bin1, destination=bin2)
    assert (level(item, bin1), level(item, bin2)) == (6, 4)
    assert ledger_differences() == []


def test_transfer_between_sites_goes_through_transit(bins, bin_b):
    _, bin1, _ = bins
    item = ItemFactory()
    receive(item, bin1, 10)
    moves = services.stock_transfer(item=item, quantity=D(3), source=bin1, destination=bin_b)
    transit = virtual_location(site=bin1.site, kind="transit")
    assert [(m.source, m.destination) for m in moves] == [(bin1, transit), (transit, bin_b)]
    assert level(item, bin_b) == 3 and level(item, transit) == 0
    assert ledger_differences() == []


def test_insufficient_stock_writes_nothing(bins):
    _, bin1, bin2 = bins
    item = ItemFactory()
    receive(item, bin1, 2)
    before = StockMove.objects.count()
    with pytest.raises(errors.InsufficientStock):
        services.stock_transfer(item=item, quantity=D(3), source=bin1, destination=bin2)
    assert StockMove.objects.count() == before and level(item, bin1) == 2


def test_allow_negative_item_may_go_below_zero(bins):
    _, bin1, _ = bins
    item = ItemFactory(allow_negative=True)
    services.stock_issue(item=item, quantity=D(3), location=bin1)
    assert level(item, bin1) == -3
    assert ledger_differences() == []


@pytest.mark.parametrize("qty", [D(0), D(-1), D("0.00001")])
def test_bad_quantities(bins, qty):
    item = ItemFactory(unit="kg")
    with pytest.raises(errors.InvalidQuantity):
        receive(item, bins[1], qty)


def test_fraction_of_a_piece_is_wrong_unit(bins):
    with pytest.raises(errors.WrongUnit):
        receive(ItemFactory(unit="pcs"), bins[1], D("1.5"))
    with pytest.raises(errors.WrongUnit):
        services.check_unit(item=ItemFactory(unit="pcs"), unit="kg")


def test_lot_rules(bins):
    _, bin1, bin2 = bins
    lot_item = LotItemFactory()
    with pytest.raises(errors.LotRequired):
        receive(lot_item, bin1, 5)
    with pytest.raises(errors.LotNotAllowed):
        receive(ItemFactory(), bin1, 5, lot_code="L1")
    receive(lot_item, bin1, 5, lot_code="L1")
    with pytest.raises(errors.LotRequired):
        services.stock_transfer(item=lot_item, quantity=D(1), source=bin1, destination=bin2)


def test_expired_and_held_lots_cannot_move_but_can_be_scrapped(bins):
    _, bin1, bin2 = bins
    item = LotItemFactory()
    receive(item, bin1, 5, lot_code="OLD", expiry_date=timezone.localdate() + dt.timedelta(days=1))
    lot = Lot.objects.get(code="OLD")
    Lot.objects.filter(pk=lot.pk).update(expiry_date=timezone.localdate() - dt.timedelta(days=1))
    lot.refresh_from_db()
    with pytest.raises(errors.LotExpired):
        services.stock_transfer(item=item, quantity=D(1), source=bin1, destination=bin2, lot=lot)
    with pytest.raises(errors.LotExpired):
        receive(item, bin1, 1, lot_code="NEW", expiry_date=timezone.localdate() - dt.timedelta(days=1))
    receive(item, bin1, 5, lot_code="H")
    held = services.lot_set_status(lot=Lot.objects.get(code="H"), status=Lot.Status.ON_HOLD, reason="QA")
    with pytest.raises(errors.LotOnHold):
        services.stock_issue(item=item, quantity=D(1), location=bin1, lot=held)
    services.stock_scrap(item=item, quantity=D(5), location=bin1, lot=lot, reason="expired")
    assert level(item, bin1, lot) == 0


def test_fefo_issue_splits_across_lots_and_skips_held(bins):
    _, bin1, _ = bins
    item = LotItemFactory()
    today = timezone.localdate()
    receive(item, bin1, 3, lot_code="LATE", expiry_date=today + dt.timedelta(days=30))
    receive(item, bin1, 2, lot_code="EARLY", expiry_date=today + dt.timedelta(days=5))
    receive(item, bin1, 9, lot_code="HELD", expiry_date=today + dt.timedelta(days=1))
    services.lot_set_status(lot=Lot.objects.get(code="HELD"), status="on_hold")
    assert [(lt.code, q) for lt, q in fefo_lots(item=item, location_or_site=bin1, quantity=D(4))] == [
        ("EARLY", 2),
        ("LATE", 2),
    ]
    moves = services.stock_issue(item=item, quantity=D(4), location=bin1, reference="WO-1")
    assert [(m.lot.code, m.quantity) for m in moves] == [("EARLY", 2), ("LATE", 2)]
    with pytest.raises(errors.InsufficientStock):
        services.stock_issue(item=item, quantity=D(2), location=bin1)


def test_serials_move_one_by_one(bins):
    _, bin1, bin2 = bins
    item = SerialItemFactory()
    moves = receive(item, bin1, 3, serials=["S1", "S2", "S3"])
    assert len(moves) == 3 and all(m.quantity == 1 and m.serial for m in moves)
    with pytest.raises(errors.SerialDuplicate):
        receive(item, bin1, 1, serials=["S1"])
    with pytest.raises(errors.SerialCountMismatch):
        receive(item, bin1, 2, serials=["S9"])
    with pytest.raises(errors.SerialRequired):
        receive(item, bin1, 1)
    services.stock_transfer(item=item, quantity=D(1), source=bin1, destination=bin2, serials=["S2"])
    assert SerialUnit.objects.get(serial="S2").location == bin2
    with pytest.raises(errors.SerialNotAvailable):
        services.stock_ship(item=item, quantity=D(1), location=bin1, serials=["S2"])
    services.stock_ship(item=item, quantity=D(1), location=bin2, serials=["S2"], reference="SO-1", customer="Bob")
    assert SerialUnit.objects.get(serial="S2").status == SerialUnit.Status.SHIPPED
    assert ledger_differences() == []


def test_adjust_needs_reason_and_uses_adjustment_location(bins):
    _, bin1, _ = bins
    item = ItemFactory()
    with pytest.raises(errors.ReasonRequired):
        services.stock_adjust(item=item, location=bin1, quantity_delta=D(1), reason="")
    [found] = services.stock_adjust(item=item, location=bin1, quantity_delta=D(4), reason="found")
    assert found.source.kind == "adjustment"
    [lost] = services.stock_adjust(item=item, location=bin1, quantity_delta=D(-1), reason="lost")
    assert lost.destination.kind == "adjustment" and level(item, bin1) == 3
    with pytest.raises(errors.InsufficientStock):
        services.stock_adjust(item=item, location=bin1, quantity_delta=D(-4), reason="lost")


def test_reservations_limit_availability_and_are_consumed(bins, site_a):
    _, bin1, _ = bins
    item = ItemFactory()
    receive(item, bin1, 10)
    services.stock_reserve(item=item, quantity=D(6), site=site_a, reference="WO-1")
    assert available_quantity(item=item, site=site_a) == 4
    with pytest.raises(errors.InsufficientStock):
        services.stock_reserve(item=item, quantity=D(5), site=site_a, reference="WO-2")
    with pytest.raises(errors.InsufficientStock):
        services.stock_issue(item=item, quantity=D(5), location=bin1, reference="WO-2")
    services.stock_issue(item=item, quantity=D(6), location=bin1, reference="WO-1")
    assert available_quantity(item=item, site=site_a) == 4
    services.stock_reserve(item=item, quantity=D(2), site=site_a, reference="WO-3", location=bin1)
    assert StockLevel.objects.get(item=item, location=bin1).reserved == 2
    assert services.stock_release_reservation(reference="WO-3") == 1
    assert StockLevel.objects.get(item=item, location=bin1).reserved == 0
    assert available_quantity(item=item, site=site_a) == 4


def test_produce_records_genealogy(bins):
    _, bin1, _ = bins
    comp = LotItemFactory()
    receive(comp, bin1, 10, lot_code="C1")
    issued = services.stock_issue(item=comp, quantity=D(4), location=bin1, reference="WO-9")
    fg = SerialItemFactory()
    services.stock_produce(
        item=fg, quantity=D(2), location=bin1, serials=["F1", "F2"], consumed=issued, reference="WO-9"
    )
    unit = SerialUnit.objects.get(serial="F1")
    assert unit.consumed_links.get().input_lot.code == "C1"
    assert ledger_differences() == []


def test_reorder_alert_raised_once_and_cleared(bins, site_a):
    _, bin1, _ = bins
    item = ItemFactory(reorder_point=D(5), safety_stock=D(2))
    receive(item, bin1, 10)
    services.stock_issue(item=item, quantity=D(6), location=bin1)
    services.stock_issue(item=item, quantity=D(1), location=bin1)
    alerts = Alert.objects.filter(kind=services.REORDER_ALERT)
    assert alerts.count() == 1 and alerts.get().severity == "warning" and alerts.get().is_open
    services.stock_issue(item=item, quantity=D(2), location=bin1)  # 1 left: below safety stock
    assert alerts.get().severity == "critical"
    receive(item, bin1, 10)
    assert not alerts.get().is_open


def test_stock_changed_broadcast_after_commit(bins, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("tracker.realtime._send", lambda groups, event: sent.append((groups, event)))
    with django_capture_on_commit_callbacks(execute=True):
        receive(ItemFactory(sku="BC-1"), bins[1], 1)
    events = [e for _, e in sent if e["type"] == "stock.changed"]
    assert events and events[0]["items"] == ["BC-1"] and events[0]["site"] == bins[1].site_id


def test_moves_are_append_only(bins):
    [move] = receive(ItemFactory(), bins[1], 1)
    with pytest.raises(ImmutableError):
        move.save()
    with pytest.raises(ImmutableError):
        move.delete()
    with pytest.raises(ImmutableError):
        StockMove.objects.filter(pk=move.pk).update(quantity=2)
    with pytest.raises(ImmutableError):
        StockMove.objects.all().delete()


def test_database_rejects_zero_quantity_moves(bins):
    item = ItemFactory()
    supplier = virtual_location(site=bins[1].site, kind="supplier")
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMove.objects.create(kind="receipt", item=item, quantity=0, source=supplier, destination=bins[1])


def test_one_level_row_per_item_location_without_lot(bins):
    item = ItemFactory()
    StockLevel.objects.create(item=item, location=bins[1], site=bins[1].site)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.create(item=item, location=bins[1], site=bins[1].site)


def test_verify_ledger_command(bins):
    item = ItemFactory()
    receive(item, bins[1], 3)
    call_command("verify_ledger")
    StockLevel.objects.filter(item=item).update(on_hand=7)  # simulate a corrupted cache
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("verify_ledger")


def test_cycle_count_posts_variance_after_approval(bins):
    area, bin1, bin2 = bins
    item = ItemFactory()
    receive(item, bin1, 10)
    count = services.cycle_count_create(location=area, reference="CC-1")
    services.cycle_count_record(count=count, item=item, location=bin1, counted=D(8))
    services.cycle_count_record(count=count, item=item, location=bin2, counted=D(1))
    assert level(item, bin1) == 10  # nothing posts before approval
    moves = services.cycle_count_approve(count=count)
    assert sorted(m.kind for m in moves) == ["count", "count"]
    assert (level(item, bin1), level(item, bin2)) == (8, 1)
    with pytest.raises(errors.CountNotOpen):
        services.cycle_count_approve(count=count)


def test_gtin_validated_and_normalised():
    from django.core.exceptions import ValidationError

    item = ItemFactory(gtin="4006381333931")
    assert item.gtin == "04006381333931"
    with pytest.raises(ValidationError):
        Item(sku="X", name="x", gtin="4006381333932").full_clean()


def test_transfer_to_another_site_respects_reservations(bins, bin_b, site_a):
    _, bin1, _ = bins
    item = ItemFactory()
    receive(item, bin1, 10)
    services.stock_reserve(item=item, quantity=D(8), site=site_a, reference="WO-K")
    with pytest.raises(errors.InsufficientStock):
        services.stock_transfer(item=item, quantity=D(3), source=bin1, destination=bin_b)
    services.stock_transfer(item=item, quantity=D(2), source=bin1, destination=bin_b)
    assert available_quantity(item=item, site=site_a) == 0


def test_release_then_issue_by_reference(bins, site_a):
    _, bin1, _ = bins
    item = ItemFactory()
    receive(item, bin1, 5)
    services.stock_reserve(item=item, quantity=D(5), site=site_a, reference="WO-R")
    services.stock_issue(item=item, quantity=D(2), location=bin1, reference="WO-R")
    assert available_quantity(item=item, site=site_a) == 0  # 3 still reserved for WO-R
    assert services.stock_release_reservation(reference="WO-R", item=item) == 1
    assert available_quantity(item=item, site=site_a) == 3


def test_admin_shows_the_ledger_read_only(bins, admin_client):
    [move] = receive(ItemFactory(sku="ADM-1"), bins[1], 1)
    assert admin_client.get("/admin/inventory/stockmove/").status_code == 200
    assert admin_client.get("/admin/inventory/stockmove/add/").status_code == 403
    assert admin_client.post(f"/admin/inventory/stockmove/{move.pk}/delete/", {"post": "yes"}).status_code == 403
    assert StockMove.objects.filter(pk=move.pk).exists()


def test_reorder_sweep_raises_after_a_threshold_change(bins, site_a):
    item = ItemFactory(sku="SWEEP")
    receive(item, bins[1], 3)
    assert not Alert.objects.filter(kind=services.REORDER_ALERT).exists()
    services.item_update(item=item, reorder_point=D(5))
    from inventory.tasks import reorder_sweep_all_sites

    reorder_sweep_all_sites.delay()
    assert Alert.objects.open().filter(kind=services.REORDER_ALERT, subject="item:SWEEP").count() == 1
