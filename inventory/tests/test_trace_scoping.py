"""Which serials a user may trace: the lookup itself is scoped (not only the trace).

A serial unit's location is not the whole story: consumed into an assembly or
shipped, it sits in a virtual location of the site that consumed or shipped
it; transferred away, at the other site. The sites it passed through keep its
history (``inventory.selectors.traceable_serials``).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from inventory import services
from inventory.models import SerialUnit
from tests.factories.inventory import LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tests.scoping import covers

pytestmark = pytest.mark.django_db

TRACE = "/api/v1/inventory/trace/"


def _trace(api_client, user, serial: SerialUnit, direction: str = "backward"):
    api_client.force_authenticate(user)
    return api_client.get(TRACE, {"serial": f"{serial.item.sku}/{serial.serial}", "direction": direction})


@pytest.fixture
def consumed(bins):
    """A serial unit issued into an assembly at site A: it sits in A's production location."""
    _, bin1, bin2 = bins
    (move,) = receive(SerialItemFactory(sku="MOTOR"), bin1, 1, serials=["M-1"])
    issued = services.stock_issue(item=move.item, quantity=D(1), location=bin1, serials=["M-1"], reference="WO-ASM")
    services.stock_produce(
        item=LotItemFactory(sku="PUMP-ASM"),
        quantity=D(1),
        location=bin2,
        lot_code="ASM-1",
        consumed=issued,
        reference="WO-ASM",
    )
    unit = SerialUnit.objects.select_related("item", "location").get(serial="M-1")
    assert unit.status == SerialUnit.Status.CONSUMED and unit.location.is_virtual
    return unit


@covers("inventory-trace GET")
def test_a_consumed_serial_is_traced_by_the_site_that_consumed_it_only(api_client, consumed, site_a, site_b):
    mine = _trace(api_client, user_with_role("viewer", site_a), consumed, "forward")
    assert mine.status_code == 200 and mine.json()["tree"]["outputs"][0]["lot"] == "ASM-1"
    theirs = _trace(api_client, user_with_role("viewer", site_b), consumed)
    assert theirs.status_code == 404
    assert theirs.json()["detail"] == "No such serial."  # refused by the lookup, not only by the trace


@covers("inventory-trace GET", "inventory:trace GET")
def test_a_serial_sent_to_another_site_stays_traceable_where_it_passed(api_client, bins, site_a, site_b):
    bin_b = LocationFactory(site=site_b, code="B-BIN1")
    (move,) = receive(SerialItemFactory(sku="VALVE"), bins[1], 1, serials=["V-1"])
    services.stock_transfer(item=move.item, quantity=D(1), source=bins[1], destination=bin_b, serials=["V-1"])
    unit = SerialUnit.objects.select_related("item").get(serial="V-1")
    assert unit.location == bin_b
    for site in (site_a, site_b):
        user = user_with_role("viewer", site)
        assert _trace(api_client, user, unit).status_code == 200, site.code
        page = Client()
        page.force_login(user)
        assert page.get("/inventory/trace/", {"serial": "VALVE/V-1"}).status_code == 200, site.code
    elsewhere = user_with_role("viewer", SiteFactory(code="plant-c"))
    assert _trace(api_client, elsewhere, unit).json()["detail"] == "No such serial."


def test_a_role_without_serials_traces_none(api_client, consumed, site_a):
    from django.contrib.auth.models import Permission

    user = user_with_role("viewer", site_a)
    user.groups.first().permissions.remove(Permission.objects.get(codename="view_serialunit"))
    user = type(user).objects.get(pk=user.pk)
    assert _trace(api_client, user, consumed).status_code == 404
