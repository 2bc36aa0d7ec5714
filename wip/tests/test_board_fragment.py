"""The WIP board's columns are rendered once per site plan version and served to everyone who may
see the board; a WIP change (its version) renders them again; someone who may not sees none."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories.tracker import SiteFactory, user_with_role
from tests.factories.wip import WorkOrderFactory, make_plant
from wip import plan_cache, selectors, services

pytestmark = pytest.mark.django_db(transaction=True)  # versions move after real commits


def login(role: str, site) -> Client:
    client = Client()
    client.force_login(user_with_role(role, site))
    return client


def test_the_columns_are_cached_per_version_and_shared(site_a, monkeypatch):
    cache.clear()
    built: list[int] = []
    board = selectors.wip_board

    def counting(**kwargs):
        built.append(1)
        return board(**kwargs)

    monkeypatch.setattr(selectors, "wip_board", counting)
    plant = make_plant(site_a)
    order = WorkOrderFactory(routing=plant.routing, number="FRAG-1", quantity=Decimal(1))
    services.work_order_release(work_order=order)
    supervisor, planner = login("supervisor", site_a), login("planner", site_a)
    first = supervisor.get("/wip/").content.decode()
    assert "FRAG-1" in first
    assert len(built) == 1
    # Another user who may see the board gets the same columns, from the cache.
    assert "FRAG-1" in planner.get("/wip/").content.decode()
    assert len(built) == 1
    second = WorkOrderFactory(routing=plant.routing, number="FRAG-2", quantity=Decimal(1))
    services.work_order_release(work_order=second)  # commits: the site's plan version moves
    assert plan_cache.current_version(site_a.pk) is not None
    assert "FRAG-2" in supervisor.get("/wip/").content.decode()
    assert len(built) == 2
    # HTMX refreshes get the same fragment alone.
    fragment = supervisor.get("/wip/", headers={"HX-Request": "true"}).content.decode()
    assert fragment.startswith('<div id="wip-board"') and "FRAG-2" in fragment


def test_no_columns_for_someone_without_the_site(site_a):
    cache.clear()
    plant = make_plant(site_a)
    order = WorkOrderFactory(routing=plant.routing, number="FRAG-3", quantity=Decimal(1))
    services.work_order_release(work_order=order)
    assert "FRAG-3" in login("supervisor", site_a).get("/wip/").content.decode()
    other = SiteFactory(code="frag-b")
    outsider = Client()
    outsider.force_login(user_with_role("supervisor", other))
    session = outsider.session
    session["site_id"] = site_a.pk
    session.save()
    assert "FRAG-3" not in outsider.get("/wip/").content.decode()


def test_board_visible_answers_from_the_granted_sites_without_a_query(site_a, django_assert_num_queries):
    site_b = SiteFactory(code="vis-b")
    supervisor = user_with_role("supervisor", site_a)
    assert selectors.board_visible(user=supervisor, site=site_a)  # reads the user's sites once
    with django_assert_num_queries(0):
        assert selectors.board_visible(user=supervisor, site=site_a)
        assert not selectors.board_visible(user=supervisor, site=site_b)
    assert not selectors.board_visible(user=user_with_role(None, site_a), site=site_a)  # no role
    assert selectors.board_visible(user=user_with_role(None, is_superuser=True), site=site_b)
