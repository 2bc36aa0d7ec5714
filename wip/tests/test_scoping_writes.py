"""WIP API: requests naming another site's station, location, routing, lot or work
order are refused and write nothing; load, metrics and reports need a site the
user holds. (Actions on another site's order or run: the matrices in test_api.py.)

Each refusal has its control: the same request naming site A's objects goes through.
"""

from __future__ import annotations

import pytest

from tests.api_scoping import accepted, client_of, refused
from tests.scoping import covers
from tests.scoping_world import TwoSites, two_sites

pytestmark = pytest.mark.django_db

API = "/api/v1/wip"


@pytest.fixture
def w() -> TwoSites:
    return two_sites()


@pytest.fixture
def api(w):
    return client_of(w)


def _order(w, **body):
    a = w.a.plant
    return {
        "number": "NEW-1",
        "site": a.site.code,
        "item": a.product.sku,
        "quantity": "1",
        "routing": a.routing.code,
        **body,
    }


@covers("wip-workorder-list POST")
@pytest.mark.parametrize("field", ["site", "routing", "bom", "issue_location", "output_location"])
def test_an_order_naming_another_sites_site_routing_bom_or_location_is_refused(api, w, field):
    b = w.b.plant
    theirs = {
        "site": b.site.code,
        "routing": b.routing.code,
        "bom": b.bom.code,
        "issue_location": b.stores.code,
        "output_location": b.stores.code,
    }
    refused(api, "POST", f"{API}/work-orders/", _order(w, **{field: theirs[field]}), field=field)
    a = w.a.plant
    accepted(
        api,
        "POST",
        f"{API}/work-orders/",
        _order(w, bom=a.bom.code, issue_location=a.stores.code, output_location=a.stores.code),
    )


@covers("wip-hold-list POST")
def test_a_hold_on_another_sites_order_or_lot_is_refused(api, w):
    a, b = w.a, w.b
    refused(api, "POST", f"{API}/holds/", {"work_order": b.order.number, "reason": "x"}, field="work_order")
    refused(api, "POST", f"{API}/holds/", {"item": b.lot.item.sku, "lot": b.lot.code, "reason": "x"}, field="lot")
    accepted(api, "POST", f"{API}/holds/", {"work_order": a.order.number, "reason": "x"})
    accepted(api, "POST", f"{API}/holds/", {"item": a.lot.item.sku, "lot": a.lot.code, "reason": "x"})


@covers("wip-workorder-start POST", "wip-workorder-arrive POST", "wip-run-start POST")
def test_starting_or_arriving_at_another_sites_station_is_refused(api, w):
    a, b = w.a, w.b
    order, run = f"{API}/work-orders/{a.order.number}", f"{API}/runs/{a.run.pk}"
    refused(api, "POST", f"{order}/start/", {"workstation": b.plant.cut.code}, field="workstation")
    refused(api, "POST", f"{order}/arrive/", {"workstation": b.plant.cut.code}, field="workstation")
    refused(api, "POST", f"{run}/start/", {"workstation": b.plant.cut.code}, field="workstation")
    accepted(api, "POST", f"{run}/start/", {"workstation": a.plant.cut.code})


@covers("wip-run-complete POST", "wip-run-defect POST")
def test_completing_or_recording_a_defect_with_another_sites_lot_or_location_is_refused(api, w):
    a, b = w.a, w.b
    run = f"{API}/runs/{a.run.pk}"
    accepted(api, "POST", f"{run}/start/")
    steel = {"item": a.lot.item.sku, "quantity": "4"}
    theirs_lot = {**steel, "item": b.lot.item.sku, "lot": b.lot.code}
    refused(api, "POST", f"{run}/complete/", {"good_quantity": "2", "components": [theirs_lot]}, field="components")
    refused(
        api,
        "POST",
        f"{run}/complete/",
        {"good_quantity": "2", "components": [{**steel, "lot": a.lot.code, "location": b.stores.code}]},
        field="components",
    )
    defect = {"code": "DENT", "quantity": "1", "disposition": "scrap", "component": b.lot.item.sku}
    refused(api, "POST", f"{run}/defect/", {**defect, "component_lot": b.lot.code}, field="component_lot")
    accepted(api, "POST", f"{run}/defect/", {**defect, "component": a.lot.item.sku, "component_lot": a.lot.code})
    accepted(
        api,
        "POST",
        f"{run}/complete/",
        {
            "good_quantity": "1",
            "components": [{**steel, "quantity": "2", "lot": a.lot.code, "location": a.stores.code}],
        },
    )


@covers("wip-workorder-complete POST")
def test_completing_an_order_into_another_sites_location_is_refused(api, w):
    refused(
        api, "POST", f"{API}/work-orders/{w.a.order.number}/complete/", {"location": w.b.stores.code}, field="location"
    )


@covers("wip-load GET", "wip-metrics GET", "wip-analytics GET")
@pytest.mark.parametrize("url", ["load/", "metrics/", "analytics/throughput/"])
def test_site_reports_need_a_site_the_user_holds(api, w, url):
    refused(api, "GET", f"{API}/{url}", {"site": w.b.site.code}, status=404)
    body = accepted(api, "GET", f"{API}/{url}", {"site": w.a.site.code}).json()
    assert "BRAVO" not in str(body)
