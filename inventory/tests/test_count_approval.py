"""Separation of duties on cycle counts: where the site asks for it (``Site.count_approval_by_other``, on
by default), the person who counted a variance does not approve it; the service refuses, the page offers
no Approve button and says why, the API answers a 403 problem saying why. Plus the counts API's scoping."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client
from rest_framework.test import APIClient

from inventory import errors, services
from inventory.models import CycleCount, StockLevel, StockMove
from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tests.scoping import DetailWrite, ScopedEndpointMatrix
from tracker.roles import ROLE_NAMES

pytestmark = pytest.mark.django_db


def level(item, location) -> D:
    return StockLevel.objects.get(item=item, location=location).on_hand


@pytest.fixture
def counted(site_a, bins):
    """A count at site A in which the clerk counted 3 where 5 were expected."""
    _, bin1, _ = bins
    item = ItemFactory(sku="SOD-1")
    receive(item, bin1, 5)
    clerk = user_with_role("warehouse clerk", site_a, username="counter")
    count = services.cycle_count_create(location=bin1, actor=clerk)
    services.cycle_count_record(count=count, item=item, location=bin1, counted=D(3), actor=clerk)
    return count, item, bin1, clerk


def client_for(user, cls=Client):
    client = cls()
    client.force_login(user)
    return client


# ---------------------------------------------------------------- the service


def test_new_sites_separate_duties(site_a):
    assert site_a.count_approval_by_other is True


def test_the_counter_may_not_approve_their_variance(counted, site_a):
    count, item, bin1, clerk = counted
    with pytest.raises(errors.CountApprovalByCounter) as refused:
        services.cycle_count_approve(count=count, actor=clerk)
    assert refused.value.code == "separation_of_duties" and refused.value.status == 403
    assert "someone other than the counter" in refused.value.detail and "counter counted" in refused.value.detail
    assert level(item, bin1) == 5 and not StockMove.objects.filter(kind="count").exists()
    assert CycleCount.objects.get(pk=count.pk).status == CycleCount.Status.OPEN

    colleague = user_with_role("warehouse clerk", site_a)
    services.cycle_count_approve(count=count, actor=colleague)
    assert level(item, bin1) == 3
    assert CycleCount.objects.get(pk=count.pk).approved_by == colleague


def test_the_rule_is_per_site(counted, site_a):
    count, item, bin1, clerk = counted
    site_a.count_approval_by_other = False
    site_a.save()
    services.cycle_count_approve(count=count, actor=clerk)
    assert level(item, bin1) == 3


def test_what_posts_nothing_or_was_scanned_does_not_bind_the_counter(site_a, bins):
    _, bin1, bin2 = bins
    item = ItemFactory()
    receive(item, bin1, 5)
    receive(item, bin2, 2)
    clerk = user_with_role("warehouse clerk", site_a)
    count = services.cycle_count_create(location=bins[0])
    services.cycle_count_record(count=count, item=item, location=bin1, counted=D(5), actor=clerk)  # no variance
    services.cycle_count_record(count=count, item=item, location=bin2, counted=D(1))  # a device's scan
    assert services.cycle_count_approve(count=count, actor=clerk)  # the scanned variance posts
    assert level(item, bin2) == 1


def test_recounting_a_line_makes_the_recounter_its_counter(counted, site_a):
    count, item, bin1, clerk = counted
    other = user_with_role("warehouse clerk", site_a)
    services.cycle_count_record(count=count, item=item, location=bin1, counted=D(4), actor=other)
    services.cycle_count_approve(count=count, actor=clerk)  # the variance is now the other's count
    assert level(item, bin1) == 4


# ---------------------------------------------------------------- the page


def test_the_page_offers_no_approve_button_to_the_counter_and_says_why(counted, site_a):
    count, item, bin1, clerk = counted
    page = client_for(clerk).get("/inventory/count/").content.decode()
    assert "Approve and post variances" not in page
    assert "approved by someone other than the counter" in page and "counter counted this one" in page
    assert '<td data-label="Counted by">counter</td>' in page

    colleague = client_for(user_with_role("warehouse clerk", site_a))
    assert "Approve and post variances" in colleague.get("/inventory/count/").content.decode()


def test_the_counters_approval_by_page_is_refused_with_the_reason(counted, site_a):
    count, item, bin1, clerk = counted
    response = client_for(clerk).post(f"/inventory/count/{count.pk}/approve/", follow=True)
    assert "someone other than the counter" in response.content.decode()
    assert level(item, bin1) == 5


def test_the_page_counts_by_the_logged_in_user(site_a, bins):
    _, bin1, _ = bins
    ItemFactory(sku="SOD-2")
    clerk = user_with_role("warehouse clerk", site_a)
    client_for(clerk).post("/inventory/count/", {"item": "SOD-2", "location": bin1.code, "counted": "2"})
    line = CycleCount.objects.get().lines.get()
    assert line.counted_by == clerk


def test_count_page_query_count_is_flat(site_a, bins, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clerk = user_with_role("warehouse clerk", site_a)
    client = client_for(clerk)
    item = ItemFactory()
    count = services.cycle_count_create(location=bins[1], actor=clerk)
    services.cycle_count_record(count=count, item=item, location=bins[1], counted=D(1), actor=clerk)
    client.get("/inventory/count/")
    with CaptureQueriesContext(connection) as one:
        client.get("/inventory/count/")
    for n in range(5):
        location = LocationFactory(site=site_a, kind="bin", parent=bins[0], code=f"A-BINX{n}")
        more = services.cycle_count_create(location=location, actor=clerk)
        services.cycle_count_record(count=more, item=item, location=location, counted=D(n), actor=clerk)
    with django_assert_num_queries(len(one.captured_queries)):
        client.get("/inventory/count/")


# ---------------------------------------------------------------- the API


def test_api_refuses_the_counter_with_a_problem_saying_why(counted, site_a):
    count, item, bin1, clerk = counted
    api = client_for(clerk, APIClient)
    shown = api.get(f"/api/v1/inventory/counts/{count.pk}/").json()
    assert shown["approval_by_other"] is True
    assert shown["lines"][0]["counted_by"] == "counter" and D(shown["lines"][0]["variance"]) == -2
    response = api.post(f"/api/v1/inventory/counts/{count.pk}/approve/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "separation_of_duties" and "someone other than the counter" in problem["detail"]
    assert level(item, bin1) == 5

    colleague = client_for(user_with_role("warehouse clerk", site_a), APIClient)
    done = colleague.post(f"/api/v1/inventory/counts/{count.pk}/approve/")
    assert done.status_code == 200, done.content
    assert len(done.json()["moves"]) == 1 and done.json()["status"] == "approved"
    assert level(item, bin1) == 3


def test_api_approval_needs_the_change_permission(counted, site_a):
    count, *_ = counted
    viewer = client_for(user_with_role("viewer", site_a), APIClient)
    assert viewer.get(f"/api/v1/inventory/counts/{count.pk}/").status_code == 200
    assert viewer.post(f"/api/v1/inventory/counts/{count.pk}/approve/").status_code in (403, 404)
    assert CycleCount.objects.get(pk=count.pk).status == CycleCount.Status.OPEN


def _count_at(site):
    area = LocationFactory(site=site, kind="area")
    location = LocationFactory(site=site, kind="bin", parent=area)
    item = ItemFactory()
    receive(item, location, 4)
    count = services.cycle_count_create(location=location)
    services.cycle_count_record(count=count, item=item, location=location, counted=D(3))
    return count


class TestCountsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/inventory/counts/"
    key_field = "id"
    viewer_roles = tuple(r for r in ROLE_NAMES if r != "operator")
    writer_role = "warehouse clerk"
    detail_writes = {"inventory-count-approve": DetailWrite(suffix="approve/")}

    def make_object(self, site):
        return _count_at(site)

    def object_key(self, obj):
        return str(obj.pk)
