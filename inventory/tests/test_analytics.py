"""Inventory reports on a small hand-computed ledger; pages keep a constant query count;
exports neutralise formulas; the API is scoped."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from inventory import analytics, services
from tests.factories.inventory import ItemFactory, LotItemFactory, receive

pytestmark = pytest.mark.django_db
START, END = dt.date(2025, 1, 1), dt.date(2025, 1, 10)


def at(day: int, month: int = 1, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


@pytest.fixture
def ledger(site_a, bins):
    """A: 100 in on 20 Dec, 30 issued on 3 Jan, 20 shipped on 6 Jan (cost 2).
    B: 10 in on 2 Jan, 10 issued on 5 Jan (cost 5, reorder point 5).
    C: 40 in on 1 Dec, never issued (cost 1)."""
    _, bin1, _ = bins
    a = ItemFactory(sku="A", standard_cost=D("2"), kind="component")
    b = ItemFactory(sku="B", standard_cost=D("5"), reorder_point=D("5"), kind="raw_material")
    c = ItemFactory(sku="=C", standard_cost=D("1"), kind="component")  # a formula-looking SKU
    receive(a, bin1, 100, occurred_at=at(20, 12, 2024))
    services.stock_issue(item=a, quantity=D(30), location=bin1, occurred_at=at(3))
    services.stock_ship(item=a, quantity=D(20), location=bin1, occurred_at=at(6))
    receive(b, bin1, 10, occurred_at=at(2))
    services.stock_issue(item=b, quantity=D(10), location=bin1, occurred_at=at(5))
    receive(c, bin1, 40, occurred_at=at(1, 12, 2024))
    return a, b, c


def rows_by(report, key):
    return {r[key]: r for r in report.rows}


def test_stock_value(site_a, ledger):
    r = analytics.stock_value(site=site_a, start=START, end=END)
    assert [(x["item__sku"], x["quantity"], x["value"], x["share"]) for x in r.rows] == [
        ("A", D(50), D(100), D("71.4")),
        ("=C", D(40), D(40), D("28.6")),
    ]
    by_kind = analytics.stock_value(site=site_a, start=START, end=END, group="kind")
    assert [(x["item__kind"], x["value"]) for x in by_kind.rows] == [("component", D(140))]


def test_turnover_and_days_of_supply(site_a, ledger):
    r = rows_by(analytics.turnover(site=site_a, start=START, end=END), "sku")
    # A: 100 at start, 50 at end, average 75; consumed 50 → 0.67; 50 on hand / 5 a day = 10 days
    assert (r["A"]["on_hand_start"], r["A"]["on_hand_end"], r["A"]["turnover"], r["A"]["days_of_supply"]) == (
        D(100),
        D(50),
        D("0.67"),
        D("10.0"),
    )
    assert r["B"]["consumed"] == D(10) and r["B"]["turnover"] is None  # average 0: undefined


def test_abc(site_a, ledger):
    r = analytics.abc(site=site_a, start=START, end=END, a=50)
    # A 50 × 2 = 100, B 10 × 5 = 50: A starts at 0 % → A; B starts at 66.7 % → B
    assert [(x["item__sku"], x["value"], x["cumulative_share"], x["class"]) for x in r.rows] == [
        ("A", D(100), D("66.7"), "A"),
        ("B", D(50), D("100.0"), "B"),
    ]


def test_slow_movers_and_dead_stock(site_a, ledger):
    r = analytics.slow_movers(site=site_a, start=START, end=END, dead_days=30)
    assert [(x["sku"], x["status"], x["value"]) for x in r.rows] == [("=C", "dead", D(40))]


def test_stockout_and_under_reorder_days(site_a, ledger):
    r = rows_by(analytics.stockouts(site=site_a, start=START, end=END), "sku")
    # B: first in on 2 Jan (1 Jan is before it ever had stock: not counted), 10 from 2 to 4 Jan,
    # 0 from 5 to 10 Jan → 6 days out, 6 under 5
    assert (r["B"]["stockout_days"], r["B"]["under_reorder_days"], r["B"]["stockout_share"]) == (6, 6, D("60.0"))
    assert "A" not in r


def test_stockout_counts_an_item_that_ran_out_before_the_period_but_not_one_never_stocked(site_a, bins):
    _, bin1, _ = bins
    gone = ItemFactory(sku="GONE", reorder_point=D("1"))
    receive(gone, bin1, 5, occurred_at=at(20, 12, 2024))
    services.stock_issue(item=gone, quantity=D(5), location=bin1, occurred_at=at(21, 12, 2024))
    ItemFactory(sku="NEVER", reorder_point=D("1"))  # a reorder point, never any stock
    late = ItemFactory(sku="LATE", reorder_point=D("1"))
    receive(late, bin1, 3, occurred_at=at(9))
    r = rows_by(analytics.stockouts(site=site_a, start=START, end=END), "sku")
    assert (r["GONE"]["stockout_days"], r["GONE"]["under_reorder_days"]) == (10, 10)
    assert "NEVER" not in r and "LATE" not in r


def test_lot_ageing_and_expiry(site_a, bins):
    _, bin1, _ = bins
    item = LotItemFactory(sku="MILK", standard_cost=D("3"))
    today = dt.datetime.now(dt.UTC).date()
    receive(item, bin1, 5, lot_code="OLD", expiry_date=today + dt.timedelta(days=10))
    receive(item, bin1, 7, lot_code="NEW", expiry_date=today + dt.timedelta(days=60))
    r = analytics.lot_ageing(site=site_a, start=today, end=today)
    assert [(x["expiry_bucket"], x["age_bucket"], x["quantity"], x["value"]) for x in r.rows] == [
        ("≤ 30 d", "0-30 d", D(5), D(15)),
        ("31-90 d", "0-30 d", D(7), D(21)),
    ]
    assert r.summary["exposed_value"] == D(15)


def test_cycle_count_accuracy(site_a, ledger, bins, make_user):
    a, _, c = ledger
    _, bin1, _ = bins
    count = services.cycle_count_create(location=bin1)
    services.cycle_count_record(count=count, item=a, location=bin1, counted=D(48))
    services.cycle_count_record(count=count, item=c, location=bin1, counted=D(40))
    services.cycle_count_approve(count=count)
    today = dt.datetime.now(dt.UTC).date()
    r = analytics.count_accuracy(site=site_a, start=today, end=today)
    assert [(x["item__sku"], x["lines"], x["exact"], x["abs_variance"], x["variance_value"]) for x in r.rows] == [
        ("A", 1, 0, D(2), D(4)),
        ("=C", 1, 1, D(0), D(0)),
    ]
    assert r.summary["accuracy"] == D("50.0")


@pytest.mark.parametrize("slug", list(analytics.REPORTS))
def test_report_pages_keep_a_constant_query_count(client, site_a, bins, make_user, django_assert_max_num_queries, slug):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, bin1, _ = bins
    client.force_login(make_user("plant manager", site_a))
    url = f"/inventory/analytics/{slug}/?start=2025-01-01&end=2025-01-10"
    one = ItemFactory(sku="ONE", standard_cost=D(1), reorder_point=D(1))
    receive(one, bin1, 5, occurred_at=at(2))
    services.stock_issue(item=one, quantity=D(5), location=bin1, occurred_at=at(4))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(12):
        item = ItemFactory(sku=f"MANY-{n}", standard_cost=D(n + 1), reorder_point=D(2))
        receive(item, bin1, 10 + n, occurred_at=at(2))
        services.stock_issue(item=item, quantity=D(3), location=bin1, occurred_at=at(3 + n % 5))
        services.stock_ship(item=item, quantity=D(1), location=bin1, occurred_at=at(8))
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_exports_are_safe(client, site_a, ledger, make_user):
    client.force_login(make_user("plant manager", site_a))
    csv = client.get("/inventory/analytics/stock-value/?start=2025-01-01&end=2025-01-10&format=csv").content.decode()
    assert "'=C" in csv and "\n=C" not in csv
    xlsx = client.get("/inventory/analytics/stock-value/?format=xlsx")
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=C" in values and 100 in values


def test_api_is_scoped(api_client, site_a, site_b, ledger, make_user):
    api_client.force_authenticate(make_user("viewer", site_b))
    assert api_client.get("/api/v1/inventory/analytics/abc/?site=plant-a").status_code == 404
    api_client.force_authenticate(make_user("viewer", site_a))
    body = api_client.get("/api/v1/inventory/analytics/abc/?site=plant-a&start=2025-01-01&end=2025-01-10&a=50").json()
    assert [(r["item__sku"], D(r["value"]), r["class"]) for r in body["rows"]] == [
        ("A", D(100), "A"),
        ("B", D(50), "B"),
    ]
    assert api_client.get("/api/v1/inventory/analytics/nope/?site=plant-a").status_code == 404
    assert (
        api_client.get("/api/v1/inventory/analytics/abc/?site=plant-a&start=2025-02-01&end=2025-01-01").status_code
        == 400
    )


def test_forecast_page(client, site_a, ledger, make_user):
    from inventory.forecasting.services import forecasts_refresh

    forecasts_refresh(site=site_a, items=list(ledger))
    client.force_login(make_user("planner", site_a))
    body = client.get("/inventory/analytics/forecasts/A/").content.decode()
    assert "Too little history" in body
    assert client.get("/inventory/analytics/forecasts/").status_code == 200


def test_items_without_a_cost_say_so_instead_of_zero(client, site_a, bins):
    from tests.factories.tracker import user_with_role

    _, bin1, _ = bins
    receive(ItemFactory(sku="NOCOST", unit="kg"), bin1, D("16.8"), occurred_at=at(2))
    services.stock_issue(item=ItemFactory(sku="NOCOST"), quantity=D(1), location=bin1, occurred_at=at(3))
    value = analytics.stock_value(site=site_a, start=START, end=END)
    assert [(r["item__sku"], r["value"], r["item__unit"]) for r in value.rows] == [("NOCOST", None, "kg")]
    assert value.summary["total_value"] is None and any("no cost set" in n for n in value.notes)
    by_kind = analytics.stock_value(site=site_a, start=START, end=END, group="kind")
    assert [(r["item__kind"], r["items"], r["value"]) for r in by_kind.rows] == [("component", 1, None)]
    assert "quantity" not in by_kind.rows[0]  # kilograms and pieces do not add up
    abc = analytics.abc(site=site_a, start=START, end=END)
    assert [(r["item__sku"], r["value"], r["class"]) for r in abc.rows] == [("NOCOST", None, None)]
    client.force_login(user_with_role("plant manager", site_a))
    page = client.get("/inventory/analytics/stock-value/?start=2025-01-01&end=2025-01-10").content.decode()
    assert "no cost set" in page and ">15.800<" in page
