"""The ledger on monthly partitions (PostgreSQL + pg_partman): a query that names a time
window reads only the partitions of that window, and the ledger invariant and
``verify_ledger`` hold with moves spread over several partitions and the default one."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from inventory import services
from inventory.api.filters import StockMoveFilter
from inventory.models import StockMove
from inventory.selectors import ledger_differences
from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import user_with_role
from tracker.partitioning.convert import partman_schema

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def partman() -> None:
    with connection.cursor() as cursor:
        if partman_schema(cursor) is None:
            pytest.skip("pg_partman is not installed on this PostgreSQL server (.ci/run installs it)")


def month_start(when: dt.datetime, back: int = 0) -> dt.datetime:
    first = when.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(back):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first


def partitions_of(moves: list[StockMove]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM inventory_stockmove WHERE id = ANY(%s)",
            [[m.pk for m in moves]],
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_windowed_ledger_query_scans_only_the_partitions_of_its_window(site_a, bins):
    _, bin1, _ = bins
    item = ItemFactory(sku="P1")
    now = timezone.now()
    last_month = month_start(now, back=1)
    receive(item, bin1, 5, occurred_at=last_month + dt.timedelta(days=3))
    receive(item, bin1, 7, occurred_at=now)
    # The ledger API's window filters (occurred_after / occurred_before) over the user's ledger.
    window = {"occurred_after": last_month.isoformat(), "occurred_before": month_start(now).isoformat()}
    qs = StockMoveFilter(
        window, queryset=StockMove.objects.restrict(user_with_role("warehouse clerk", site_a), "view")
    ).qs

    plan = qs.explain()

    scanned = set(re.findall(r"inventory_stockmove_(p\d{4}_\d{2}|default)\b", plan))
    assert scanned == {f"p{last_month:%Y_%m}"}, plan
    assert [m.quantity for m in qs] == [D(5)]
    # Without a window every partition is read.
    assert len(set(re.findall(r"inventory_stockmove_(p\d{4}_\d{2}|default)\b", StockMove.objects.all().explain()))) > 3


def test_the_ledger_invariant_and_verify_ledger_hold_across_partitions(site_a, bins):
    _, bin1, bin2 = bins
    item = ItemFactory(sku="P2")
    now = timezone.now()
    moves = [
        *receive(item, bin1, 10, occurred_at=dt.datetime(2020, 1, 15, tzinfo=dt.UTC)),  # before every partition
        *receive(item, bin1, 20, occurred_at=month_start(now, back=2) + dt.timedelta(hours=5)),
        *services.stock_transfer(
            item=item, quantity=D(8), source=bin1, destination=bin2, occurred_at=month_start(now, back=1)
        ),
        *services.stock_issue(item=item, quantity=D(3), location=bin2, occurred_at=now),
        *services.stock_adjust(item=item, location=bin1, quantity_delta=D(-2), reason="damaged", occurred_at=now),
    ]

    assert len(partitions_of(moves)) >= 4
    assert "inventory_stockmove_default" in partitions_of(moves)
    assert ledger_differences() == []
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
