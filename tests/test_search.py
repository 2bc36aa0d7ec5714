"""The header's search box (``tracker.search`` and the sources the apps register): what it finds, that it
keeps to the user's sites, what each role is offered, and what a search costs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices import services as device_services
from tests.factories.tracker import user_with_role
from tests.scoping import covers
from tests.scoping_world import TwoSites, two_sites
from tracker.search import SOURCES

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> TwoSites:
    return two_sites()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def kinds(response) -> dict[str, list[str]]:
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return {group.kind: [hit.title for hit in group.hits] for group in response.context["groups"]}


def test_every_kind_registers_a_source():
    assert [s.kind for s in SOURCES] == ["work_orders", "items", "lots", "serials", "tags", "locations"]


def test_finds_each_kind_by_prefix_or_contains_ignoring_case(w):
    c = client_for(w.user("plant manager"))
    assert kinds(c.get("/search/", {"q": "alpha-wo"})) == {"work_orders": ["ALPHA-WO-1", "ALPHA-WO-2"]}
    assert kinds(c.get("/search/", {"q": "steel-l"}))["lots"] == ["ALPHA-STEEL-L1", "ALPHA-STEEL-L2"]
    assert kinds(c.get("/search/", {"q": "sn-1"}))["serials"] == ["ALPHA-SN-1"]
    assert kinds(c.get("/search/", {"q": "epc:hex:alp"}))["tags"] == ["epc:hex:ALPHA"]
    assert kinds(c.get("/search/", {"q": "stores"}))["locations"] == ["ALPHA-STORES"]
    # Items are global master data: both SKUs, by SKU or name.
    assert kinds(c.get("/search/", {"q": "-pump"}))["items"] == ["ALPHA-PUMP", "BRAVO-PUMP"]


def test_prefix_matches_come_first(w):
    c = client_for(w.user("plant manager"))
    # "CUT" is inside ALPHA-CUT (a station's location); a location starting with it would come first.
    from tests.factories.tracker import LocationFactory

    LocationFactory(site=w.a.site, kind="bin", parent=w.a.stores, code="CUT-BIN-1")
    assert kinds(c.get("/search/", {"q": "cut"}))["locations"][0] == "CUT-BIN-1"


@covers("tracker:search GET")
def test_another_sites_objects_never_appear(w):
    c = client_for(w.user("plant manager"))
    for q in ("bravo", "BRAVO-WO-1", "wo-", "sn-", "steel", "epc:hex:", "stores", "cut"):
        response = c.get("/search/", {"q": q, "all": "1"})
        body = response.content.decode()
        found = [hit for group in response.context["groups"] for hit in group.hits if group.kind != "items"]
        assert not [hit.title for hit in found if "BRAVO" in hit.title], q
        for code in (w.b.order.number, w.b.lot.code, w.b.serial.serial, w.b.unknown.tag.tag_id, w.b.stores.code):
            assert code not in body or code == q, (q, code)


def test_a_tag_is_found_by_what_it_carries(w):
    device_services.tag_assign(site=w.a.site, tag_id=w.a.unknown.tag.tag_id, target_kind="container", code="TOTE-77")
    device_services.tag_assign(site=w.b.site, tag_id=w.b.unknown.tag.tag_id, target_kind="container", code="TOTE-78")
    c = client_for(w.user("plant manager"))
    response = c.get("/search/", {"q": "tote-7"})
    assert kinds(response) == {"tags": ["epc:hex:ALPHA"]}
    assert "container (pallet, tote, bin) TOTE-77" in response.content.decode()
    # The container's code typed in full opens the finder on it.
    assert c.get("/search/", {"q": "TOTE-77"})["Location"] == "/devices/live/find/?q=TOTE-77"


def test_a_viewer_sees_its_sites_only_and_may_open_the_other(w):
    viewer = client_for(user_with_role("viewer", w.a.site))
    assert kinds(viewer.get("/search/", {"q": "wo-1"})) == {"work_orders": ["ALPHA-WO-1"]}
    assert kinds(viewer.get("/search/", {"q": "-sn-"})) == {"serials": ["ALPHA-SN-1"]}

    both = client_for(user_with_role("viewer", w.a.site, w.b.site))
    response = both.get("/search/", {"q": "wo-1"})
    assert kinds(response) == {"work_orders": ["ALPHA-WO-1", "BRAVO-WO-1"]}
    body = response.content.decode()
    # The current site (A, the first) links directly; B's order is opened by switching to B first.
    assert 'href="/wip/work-orders/ALPHA-WO-1/"' in body
    assert 'href="/wip/work-orders/BRAVO-WO-1/"' not in body
    assert 'name="next" value="/wip/work-orders/BRAVO-WO-1/"' in body and "Open at Bravo Works" in body
    # An exact hit at another site is listed rather than opened (its page would be a 404 here).
    assert both.get("/search/", {"q": "BRAVO-WO-1"}).status_code == 200
    switched = both.post("/site/switch/", {"site": w.b.site.code, "next": "/wip/work-orders/BRAVO-WO-1/"}, follow=True)
    assert switched.status_code == 200 and w.b.order.number in switched.content.decode()


def test_an_exact_code_opens_the_object(w):
    c = client_for(w.user("warehouse clerk"))
    lot = w.a.lot
    response = c.get("/search/", {"q": lot.code.lower()})
    assert response.status_code == 302
    assert response["Location"] == f"/inventory/trace/?lot={lot.item.sku}%2F{lot.code}"
    assert c.get(response["Location"]).status_code == 200
    assert c.get("/search/", {"q": lot.code, "all": "1"}).status_code == 200  # the list, on request
    manager = client_for(w.user("plant manager"))
    assert manager.get("/search/", {"q": w.a.order.number})["Location"] == f"/wip/work-orders/{w.a.order.number}/"
    assert manager.get("/search/", {"q": w.a.stores.code})["Location"] == f"/inventory/?within={w.a.stores.code}"


def test_each_role_is_asked_only_what_it_may_open(w):
    operator = client_for(user_with_role("operator", w.a.site))
    # Operators see work orders, lots and serials, but not stock pages or devices.
    assert set(kinds(operator.get("/search/", {"q": "alpha", "all": "1"}))) == {
        "work_orders",
        "items",
        "lots",
        "serials",
    }
    nobody = client_for(user_with_role(None, w.a.site))
    assert kinds(nobody.get("/search/", {"q": "alpha"})) == {}
    assert Client().get("/search/", {"q": "alpha"}).status_code == 302  # to the login


def test_short_or_empty_queries_ask_nothing(w, django_assert_max_num_queries):
    c = client_for(w.user("plant manager"))
    c.get("/")
    response = c.get("/search/", {"q": "a"})
    assert response.status_code == 200 and "at least 2 characters" in response.content.decode()
    assert kinds(c.get("/search/")) == {}


def test_the_search_box_is_on_every_page(w):
    c = client_for(w.user("warehouse clerk"))
    for url in ("/", "/inventory/", "/wip/", "/devices/", "/alerts/"):
        body = c.get(url).content.decode()
        assert 'action="/search/"' in body and 'name="q"' in body, url


def test_query_count_does_not_grow_with_hits(w, django_assert_num_queries):
    c = client_for(w.user("plant manager"))
    c.get("/search/", {"q": "alpha", "all": "1"})
    with CaptureQueriesContext(connection) as few:
        c.get("/search/", {"q": "alpha", "all": "1"})
    from tests.factories.inventory import receive
    from tests.factories.wip import WorkOrderFactory

    for n in range(12):
        WorkOrderFactory(routing=w.a.plant.routing, number=f"ALPHA-WO-X{n}")
        receive(w.a.plant.steel, w.a.stores, 1, lot_code=f"ALPHA-STEEL-X{n}")
    # The frame every page pays (session, user, its two permission sets, its site ids, its profile, the
    # role names for the menus, the user's sites: the switcher's list, from which the current site is
    # picked) and one query per kind: work orders, items, lots, serials, tags, locations.
    with django_assert_num_queries(len(few.captured_queries)) as many:
        response = c.get("/search/", {"q": "alpha", "all": "1"})
    assert response.context["groups"][0].more
    assert len(many.captured_queries) == 8 + 6, [q["sql"][:80] for q in many.captured_queries]
