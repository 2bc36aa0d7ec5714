"""The station page's scan field takes a traveler's barcode or QR and a tote's label:
the order they name arrives at the station; another site's order is not found."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories.devices import TagAssignmentFactory, TagFactory
from tests.factories.tracker import user_with_role
from tests.factories.wip import (
    OperationFactory,
    RoutingFactory,
    WorkOrderFactory,
    WorkstationFactory,
    WorkstationGroupFactory,
    make_plant,
)
from wip import services
from wip.models import OperationRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def oven(site_a):
    plant = make_plant(site_a)
    group = WorkstationGroupFactory(site=site_a, code="ovens")  # released orders wait for the group
    WorkstationFactory(site=site_a, code="OVEN-1", group=group)
    routing = RoutingFactory(site=site_a, item=plant.product)
    OperationFactory(routing=routing, sequence=10, group=group)
    return routing


def _released(routing, number):
    order = WorkOrderFactory(routing=routing, number=number, quantity=Decimal(1), bom=None)
    services.work_order_release(work_order=order)
    return order


def _operator(site) -> Client:
    client = Client()
    client.force_login(user_with_role("operator", site))
    return client


def _arrived(order) -> bool:
    return OperationRun.objects.get(work_order=order).workstation is not None


@pytest.mark.parametrize(
    "scanned",
    [
        "]C0WO-SCAN",
        "WO-SCAN",
        "]Q1https://plant.example.com/wip/work-orders/WO-SCAN/",
        "http://localhost/wip/work-orders/WO-SCAN/",
    ],
)
def test_traveler_barcode_or_qr_makes_the_order_arrive(site_a, oven, scanned):
    order = _released(oven, "WO-SCAN")
    page = _operator(site_a).post("/wip/stations/OVEN-1/scan/", {"traveler": scanned}, follow=True)
    assert _arrived(order) and "WO-SCAN arrived at OVEN-1" in page.content.decode()


@pytest.mark.parametrize(
    "scanned", ["]C100106141411234567897", "]Q1https://id.gs1.org/00/106141411234567897", "TOTE-9"]
)
def test_tote_label_makes_the_order_it_carries_arrive(site_a, oven, scanned):
    order = _released(oven, "WO-TOTE")
    tote = TagFactory(site=site_a, tag_id="106141411234567897")
    TagAssignmentFactory(
        tag=tote, target_kind="container", code="TOTE-9", valid_from="2020-01-01T00:00Z", valid_to="2020-01-02T00:00Z"
    )
    TagAssignmentFactory(tag=tote, target_kind="work_order", work_order=order, code="", valid_from="2020-01-02T00:00Z")
    page = _operator(site_a).post("/wip/stations/OVEN-1/scan/", {"traveler": scanned}, follow=True)
    assert _arrived(order) and "WO-TOTE arrived at OVEN-1" in page.content.decode()


def test_another_sites_traveler_is_not_found(site_a, site_b, oven):
    order = _released(oven, "WO-A")
    other = make_plant(site_b, prefix="Q")
    WorkstationFactory(site=site_b, code="OVEN-B")
    client = _operator(site_b)
    page = client.post("/wip/stations/OVEN-B/scan/", {"traveler": "]C0WO-A"}, follow=True)
    assert "No work order" in page.content.decode() and not _arrived(order)
    assert other.site == site_b
