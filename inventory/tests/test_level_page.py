"""The levels list's plain-SQL path (``inventory.selectors.level_page``) selects, counts, orders
and slices exactly as the ORM path it stands in for: the viewset's queryset, restricted, through
``StockLevelFilter``."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from inventory.api.filters import StockLevelFilter
from inventory.api.serializers import LEVEL_COLUMNS
from inventory.api.views import StockLevelViewSet
from inventory.models import StockLevel
from inventory.selectors.level_page import level_rows_in_default_order
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, UserFactory, user_with_role
from tests.scoping import results

pytestmark = pytest.mark.django_db

QUERIES = [
    "",
    "item=BOLT",
    "item=NOPE",
    "location=A-BIN1",
    "site=plant-a",
    "site=plant-b",
    "lot=M1",
    "lot=M1&item=MILK",
    "within=A-STORE",
    "within=A-BIN2&item=BOLT",
    "within=NO-SUCH-ROOT",
    "nonzero=true",
    "nonzero=false",
    "within=A-STORE&nonzero=true&site=plant-a",
]


@pytest.fixture
def stocked(site_a, site_b, bins):
    _, bin1, bin2 = bins
    bolt, milk = ItemFactory(sku="BOLT", unit="kg"), LotItemFactory(sku="MILK", unit="l")
    receive(bolt, bin1, "6.5")
    receive(bolt, bin2, 4)
    receive(milk, bin1, "1.2345", lot_code="M1")
    receive(milk, bin2, 3, lot_code="M2")
    receive(milk, bin2, 2, lot_code="M1")
    receive(bolt, LocationFactory(site=site_b, kind="bin", code="B-BIN1"), 9)
    StockLevel.objects.filter(item=bolt, location=bin2).update(on_hand=D("0"))  # a zero row (nonzero=)
    StockLevel.objects.filter(item=milk, lot__code="M2").update(reserved=D("1.5"))


def _users(site_a, site_b):
    both = user_with_role("warehouse clerk", site_a, site_b)
    keyed = user_with_role("warehouse clerk", site_a, site_b)
    keyed.api_key_site_ids = frozenset({site_b.pk})  # what a key limited to site B sets
    return {
        "clerk at A": user_with_role("warehouse clerk", site_a),
        "clerk at A and B": both,
        "key limited to B": keyed,
        "no role": user_with_role(None, site_a),
        "superuser": UserFactory(is_superuser=True, is_staff=True),
    }


def _orm(user, query: str):
    queryset = StockLevelViewSet.queryset.restrict(user, "view")
    filterset = StockLevelFilter(data=QueryDict(query), queryset=queryset)
    assert filterset.is_valid(), filterset.errors
    filtered = filterset.qs
    return filtered.count(), filtered.values_list(*LEVEL_COLUMNS)


def _sql(user, query: str):
    filterset = StockLevelFilter(data=QueryDict(query), queryset=StockLevel.objects.none())
    assert filterset.is_valid(), filterset.errors
    rows = level_rows_in_default_order(user=user, values=filterset.form.cleaned_data)
    return rows.count(), rows


def test_the_sql_path_answers_as_the_orm_path(site_a, site_b, stocked):
    for who, user in _users(site_a, site_b).items():
        for query in QUERIES:
            orm_count, orm_rows = _orm(user, query)
            sql_count, sql_rows = _sql(user, query)
            case = f"{who}, ?{query}"
            assert sql_count == orm_count, case
            assert sql_rows[0:None] == list(orm_rows), case
            assert sql_rows[1:3] == list(orm_rows[1:3]), case
            assert sql_rows[0:1] == list(orm_rows[0:1]), case


def test_the_list_answers_the_same_in_either_path(api_client, site_a, stocked):
    """The API in the default order (SQL) and with an order asked for (ORM) list the same rows."""
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    plain = api_client.get("/api/v1/inventory/levels/?within=A-STORE")
    ordered = api_client.get("/api/v1/inventory/levels/?within=A-STORE&ordering=on_hand")
    assert plain.status_code == ordered.status_code == 200
    assert plain.json()["count"] == ordered.json()["count"] == 5
    assert sorted(results(plain), key=lambda r: r["id"]) == sorted(results(ordered), key=lambda r: r["id"])
    for query in ("item=a%00b", "item=a%00b&ordering=on_hand"):  # refused by the filter's form: 400 either way
        assert api_client.get(f"/api/v1/inventory/levels/?{query}").status_code == 400


def test_a_page_and_its_count_come_in_one_query_and_answer_as_the_orm_path(site_a, site_b, stocked):
    """``expect()`` names the page's slice: the count and that page come in one query, and
    the paginator's shorter slice of a last page, or another slice, still answer right."""
    user = _users(site_a, site_b)["superuser"]
    orm_count, orm_rows = _orm(user, "")
    for start, stop, read in ((0, 2, (0, 2)), (2, 4, (2, 4)), (4, 6, (4, orm_count)), (0, 50, (0, orm_count))):
        expected = list(orm_rows[read[0] : read[1]])
        rows = level_rows_in_default_order(user=user, values={})
        rows.expect((start, stop))
        with CaptureQueriesContext(connection) as ctx:
            assert rows.count() == orm_count
            assert rows[read[0] : read[1]] == expected, (start, stop)
        assert len(ctx.captured_queries) == 1, (start, stop)
        assert rows[1:3] == list(orm_rows[1:3])  # another slice: its own query
    past = level_rows_in_default_order(user=user, values={})
    past.expect((100, 150))
    assert (past.count(), past[100:150]) == (orm_count, [])


def test_the_lists_pages_hold_every_row_once(api_client, site_a, stocked):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    everything = results(api_client.get("/api/v1/inventory/levels/?ordering=on_hand"))
    pages = [api_client.get(f"/api/v1/inventory/levels/?page_size=2&page={n}") for n in (1, 2, 3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert [len(results(p)) for p in pages] == [2, 2, 1]
    assert all(p.json()["count"] == 5 for p in pages)
    assert sorted(r["id"] for p in pages for r in results(p)) == sorted(r["id"] for r in everything)
    assert api_client.get("/api/v1/inventory/levels/?page_size=2&page=4").status_code == 404
    assert api_client.get("/api/v1/inventory/levels/?page_size=2&page=last").json()["results"] == results(pages[2])


def test_pages_past_the_end_are_404_and_an_empty_scope_costs_no_query(
    api_client, site_a, stocked, django_assert_num_queries
):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    assert api_client.get("/api/v1/inventory/levels/?page=9").status_code == 404
    user = user_with_role(None, site_a)
    user.get_all_permissions()  # cached on the user, as a request's key entry has them
    with django_assert_num_queries(0):
        rows = level_rows_in_default_order(user=user, values={})
        assert (rows.count(), rows[0:50]) == (0, [])


def test_the_sql_path_knows_every_filter_of_the_filterset():
    """A filter added to StockLevelFilter must be added to the SQL path too; until then a request
    using it takes the ORM path rather than having it ignored."""
    from inventory.selectors.level_page import HANDLED, handles

    assert set(StockLevelFilter.base_filters) == HANDLED
    assert handles({"item": "BOLT", "nonzero": None}) and not handles({"newly_added": "x"})
    assert handles({"newly_added": ""})  # no value: nothing to apply
