"""What a person sees: quantities by unit, times in the site's zone, menus per role, only actions that work."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tracker import services
from tracker.models import Alert
from tracker.navigation import menus_for

pytestmark = pytest.mark.django_db


def client_for(role: str, site) -> Client:
    client = Client()
    client.force_login(user_with_role(role, site))
    return client


@pytest.fixture
def site():
    return SiteFactory(code="tz-plant", name="TZ Plant", time_zone="Europe/Berlin")


@pytest.fixture
def stocked(site):
    area = LocationFactory(site=site, kind="area", code="T-STORE")
    shelf = LocationFactory(site=site, kind="zone", parent=area, code="T-SHELF")
    bin_ = LocationFactory(site=site, kind="bin", parent=shelf, code="T-BIN1")
    receive(ItemFactory(sku="T-PCS", unit="pcs"), bin_, Decimal("5E+2"))
    receive(ItemFactory(sku="T-KG", unit="kg"), bin_, Decimal("16.8"))
    return bin_


def test_stock_page_shows_quantities_by_unit_and_indents_without_inline_style(site, stocked):
    page = client_for("warehouse clerk", site).get("/inventory/").content.decode()
    assert re.search(r">500 pcs<", page)
    assert re.search(r">16\.800 kg<", page)
    assert "E+" not in page
    assert "style=" not in page  # the CSP allows no inline style
    assert 'class="depth-2"' in page
    assert "2 items</span>" in page  # a count per location: pieces and kilograms do not add up


def test_alert_times_in_the_site_zone_and_no_acknowledge_for_a_viewer(site):
    services.alert_raise(site=site, kind="k", subject="thing", message="Look")
    Alert.objects.update(raised_at="2025-01-15T13:05:00Z")
    supervisor = client_for("supervisor", site).get("/alerts/").content.decode()
    assert "2025-01-15 14:05 CET" in supervisor
    assert "Acknowledge" in supervisor
    viewer = client_for("viewer", site).get("/alerts/").content.decode()
    assert "2025-01-15 14:05 CET" in viewer
    assert "Acknowledge" not in viewer


def test_menus_per_role_and_the_current_page_marked(site):
    operator = user_with_role("operator", site)
    titles = [m.title for m in menus_for(operator, "/wip/work-orders/WO-1/")]
    assert titles[0] == "Production" and "Devices" not in titles
    inventory = {link.label for m in menus_for(operator, "/") if m.title == "Inventory" for link in m.links}
    assert "Receive" not in inventory and "By location" not in inventory  # no stock levels, no moves
    production = next(m for m in menus_for(operator, "/wip/work-orders/WO-1/") if m.title == "Production")
    assert production.current and [link.label for link in production.links if link.current] == ["Work orders"]

    clerk = user_with_role("warehouse clerk", site)
    menus = menus_for(clerk, "/inventory/receive/")
    assert menus[0].title == "Inventory"
    inventory = menus[0]
    assert {"Receive", "Transfer", "By location"} <= {link.label for link in inventory.links}
    assert [link.label for link in inventory.links if link.current] == ["Receive"]

    page = client_for("plant manager", site).get("/wip/").content.decode()
    assert page.count('aria-current="page"') == 1
    assert '<details class="menu current" data-menu>' in page


def test_partner_login_sees_that_it_is_api_only(site):
    page = client_for("partner", site).get("/inventory/")
    body = page.content.decode()
    assert "uses the API only" in body
    assert "<nav" not in body and "T-PCS" not in body
    assert "uses the API only" not in client_for("viewer", site).get("/").content.decode()


def test_messages_show_quantities_by_unit(site, stocked):
    clerk = client_for("warehouse clerk", site)
    received = clerk.post(
        "/inventory/receive/", {"item": "T-PCS", "quantity": "500", "location": "T-BIN1"}, follow=True
    ).content.decode()
    assert "Received 500 pcs." in received
    counted = clerk.post(
        "/inventory/count/", {"item": "T-KG", "location": "T-BIN1", "counted": "16.8"}, follow=True
    ).content.decode()
    assert "Counted 16.800 (expected 16.800) kg." in counted
    assert "E+" not in received + counted


def test_traveler_label_reads_quantity_and_due_time_in_the_site_zone(site):
    import datetime as dt

    from tests.factories.wip import WorkOrderFactory, make_plant
    from wip.labels.views import traveler_label

    plant = make_plant(site)
    due = dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC)
    order = WorkOrderFactory(routing=plant.routing, quantity=Decimal("5E+2"), due_at=due)
    lines = traveler_label(order).lines
    assert lines[0].endswith("× 500 pcs") and "Due 2025-07-01 12:00 CEST" in lines


def test_menus_are_placed_once_per_set_of_permissions_and_marked_per_call(site, django_assert_num_queries):
    """Two users of one role share the placed links; each call marks its own page on fresh links; a
    user holding another permission set gets its own menus; an inactive user none; a superuser all."""
    first, second = user_with_role("operator", site), user_with_role("operator", site)
    for user in (first, second):  # each user's own permissions and roles, read once
        user.get_all_permissions()
        menus_for(user, "/")
    with django_assert_num_queries(0):
        on_orders = menus_for(first, "/wip/work-orders/WO-1/")
        on_board = menus_for(second, "/wip/")
    assert [m.title for m in on_orders] == [m.title for m in on_board]
    assert [link.label for m in on_orders for link in m.links if link.current] == ["Work orders"]
    assert [link.label for m in on_board for link in m.links if link.current] == ["WIP board"]

    clerk = user_with_role("warehouse clerk", site)
    clerk_labels = {link.label for m in menus_for(clerk, "/") for link in m.links}
    assert "Receive" in clerk_labels
    assert "Receive" not in {link.label for m in on_orders for link in m.links}

    inactive = user_with_role("warehouse clerk", site, is_active=False)
    assert menus_for(inactive, "/") == []
    boss = user_with_role(None, is_superuser=True)
    boss_labels = {link.label for m in menus_for(boss, "/") for link in m.links}
    assert clerk_labels | {"WIP board", "Work orders"} <= boss_labels
