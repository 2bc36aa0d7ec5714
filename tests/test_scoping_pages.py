"""Every page keeps to the user's site: the registry of page scoping cases.

A plant manager of site A (who holds A only) opens every page: lists show A's
rows and none of B's, B's objects are 404, and every POST that names one of B's
objects (or B's location, lot, serial, station or work order in a form) is
refused with nothing written. Each refusal has a control: the same request
about A's object is not a 404, so the 404 is the scoping and not a wrong URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from devices.models import ReaderUpload, UploadStatus
from inventory import analytics as inventory_reports
from tests.factories.devices import ReaderUploadFactory
from tests.scoping import covers, nothing_written
from tests.scoping_world import TwoSites, two_sites
from tracker.selectors import SESSION_SITE_KEY
from wip import analytics as wip_reports

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> TwoSites:
    return two_sites()


@pytest.fixture
def c(w) -> Client:
    client = Client()
    client.force_login(w.user("plant manager"))
    return client


def site_b_codes(w: TwoSites) -> list[str]:
    """Codes that belong to site B alone (item SKUs are global and may appear)."""
    b = w.b
    return [
        b.site.name,
        b.stores.code,
        b.lot.code,
        b.serial.serial,
        b.order.number,
        b.held.number,
        b.plant.cut.code,
        b.plant.assemble.code,
        b.plant.test.code,
        b.plant.routing.code,
        b.alert.message,
        b.device.device_id,
        b.unknown.tag.tag_id,
        b.hold.reason,
        b.defect.code,
        b.receipt.reference,
        b.shipment.reference,
        b.reservation.reference,
        b.count.reference,
    ]


def shows(response, *texts: str) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    body = response.content.decode()
    for text in texts:
        assert text in body, text
    return body


def hides_site_b(body: str, w: TwoSites, *, but: tuple[str, ...] = ()) -> None:
    leaked = [code for code in site_b_codes(w) if code in body and code not in but]
    assert not leaked, f"site B shows through: {leaked}"


# --- reads -----------------------------------------------------------------------------------

PAGE_READS: dict[str, tuple[str, Callable]] = {}


def page_read(route: str):
    def register(fn):
        PAGE_READS[fn.__name__] = (route, fn)
        return fn

    return register


@page_read("tracker:home")
def dashboard(c, w):
    hides_site_b(shows(c.get("/"), w.a.site.name), w)


@page_read("tracker:alerts")
def alert_inbox(c, w):
    hides_site_b(shows(c.get("/alerts/"), w.a.alert.message), w)


@page_read("inventory:stock")
def stock_by_location(c, w):
    hides_site_b(shows(c.get("/inventory/"), w.a.stores.code), w)
    assert c.get(f"/inventory/?within={w.b.stores.code}").status_code == 404


@page_read("inventory:items")
def stock_by_item(c, w):
    response = c.get("/inventory/items/?q=PUMP")
    hides_site_b(shows(response, w.a.serial.item.sku), w)
    on_hand = {item.sku: item.on_hand_total for item in response.context["page"]}
    assert on_hand == {w.a.serial.item.sku: 1, w.b.serial.item.sku: 0}  # B's pump is global, its stock is not


@page_read("inventory:item")
def item_detail(c, w):
    hides_site_b(shows(c.get(f"/inventory/items/{w.a.serial.item.sku}/"), w.a.serial.serial), w)
    hides_site_b(shows(c.get(f"/inventory/items/{w.b.serial.item.sku}/")), w)


@page_read("inventory:receive")
def receive_form(c, w):
    hides_site_b(shows(c.get("/inventory/receive/"), w.a.site.name), w)


@page_read("inventory:transfer")
def transfer_form(c, w):
    hides_site_b(shows(c.get("/inventory/transfer/"), w.a.site.name), w)


@page_read("inventory:count")
def open_counts(c, w):
    hides_site_b(shows(c.get("/inventory/count/"), w.a.stores.code), w)


@page_read("inventory:replenishment")
def replenishment(c, w):
    hides_site_b(shows(c.get("/inventory/replenishment/")), w)


@page_read("inventory:expiring")
def expiring_lots(c, w):
    from inventory.models import Lot

    Lot.objects.update(expiry_date=timezone.localdate() + dt.timedelta(days=5))
    hides_site_b(shows(c.get("/inventory/expiring/?days=30"), w.a.lot.code), w)


@page_read("inventory:trace")
def trace(c, w):
    shows(c.get(f"/inventory/trace/?lot={w.a.lot.item.sku}/{w.a.lot.code}"), w.a.lot.code)
    assert c.get(f"/inventory/trace/?lot={w.b.lot.item.sku}/{w.b.lot.code}").status_code == 404
    assert c.get(f"/inventory/trace/?serial={w.b.serial.item.sku}/{w.b.serial.serial}").status_code == 404


@page_read("inventory:labels_lots")
def lot_labels(c, w):
    body = shows(
        c.get(f"/inventory/labels/lots/?lot={w.a.lot.item.sku}/{w.a.lot.code}&lot={w.b.lot.item.sku}/{w.b.lot.code}"),
        f"lot {w.a.lot.code}",
        "No lot",
    )
    assert f"lot {w.b.lot.code}" not in body


@page_read("inventory:labels_serials")
def serial_labels(c, w):
    a, b = w.a.serial, w.b.serial
    body = shows(
        c.get(f"/inventory/labels/serials/?serial={a.item.sku}/{a.serial}&serial={b.item.sku}/{b.serial}"),
        f"S/N {a.serial}",
        "No serial unit",
    )
    assert f"S/N {b.serial}" not in body


@page_read("inventory:labels_locations")
def location_labels(c, w):
    body = shows(
        c.get(f"/inventory/labels/locations/?code={w.a.stores.code}&code={w.b.stores.code}"),
        w.a.stores.name,
        "No location",
    )
    assert w.b.stores.name not in body


@page_read("inventory:forecasts")
def forecasts(c, w):
    body = shows(c.get("/inventory/analytics/forecasts/"), w.a.plant.screws.sku)
    assert w.b.plant.screws.sku not in body  # B's item has a forecast at B only
    hides_site_b(body, w)


@page_read("inventory:forecast")
def forecast_of_an_item_forecast_elsewhere(c, w):
    assert shows(c.get(f"/inventory/analytics/forecasts/{w.a.plant.screws.sku}/")).count("5") >= 1
    response = c.get(f"/inventory/analytics/forecasts/{w.b.plant.screws.sku}/")
    assert response.status_code == 200 and response.context["forecast"] is None
    hides_site_b(response.content.decode(), w)


def _report_case(app: str, slug: str):
    def case(c, w):
        hides_site_b(shows(c.get(f"/{app}/analytics/{slug}/")), w)

    return case


for _slug in sorted(inventory_reports.REPORTS):
    PAGE_READS[f"inventory_report_{_slug}"] = ("inventory:analytics_report", _report_case("inventory", _slug))
for _slug in sorted(wip_reports.REPORTS):
    PAGE_READS[f"wip_report_{_slug}"] = ("wip:analytics_report", _report_case("wip", _slug))


@page_read("wip:board")
def wip_board(c, w):
    hides_site_b(shows(c.get("/wip/"), w.a.order.number), w)


@page_read("wip:stations")
def stations(c, w):
    hides_site_b(shows(c.get("/wip/stations/"), w.a.plant.cut.code), w)


@page_read("wip:station")
def station(c, w):
    hides_site_b(shows(c.get(f"/wip/stations/{w.a.plant.cut.code}/"), w.a.order.number), w)
    assert c.get(f"/wip/stations/{w.b.plant.cut.code}/").status_code == 404


@page_read("wip:work_orders")
def work_orders(c, w):
    hides_site_b(shows(c.get("/wip/work-orders/"), w.a.order.number), w)


@page_read("wip:work_order")
def work_order(c, w):
    hides_site_b(shows(c.get(f"/wip/work-orders/{w.a.held.number}/"), w.a.hold.reason), w)
    assert c.get(f"/wip/work-orders/{w.b.held.number}/").status_code == 404


@page_read("wip:bottlenecks")
def bottlenecks(c, w):
    hides_site_b(shows(c.get("/wip/bottlenecks/"), w.a.plant.cut.code), w)


@page_read("wip:oee")
def oee_page(c, w):
    hides_site_b(shows(c.get("/wip/oee/"), w.a.plant.cut.code), w)


@page_read("wip:quality")
def quality(c, w):
    hides_site_b(shows(c.get("/wip/quality/"), w.a.hold.reason, w.a.defect.code), w)


@page_read("wip:inspect")
def inspection_form(c, w):
    hides_site_b(shows(c.get(f"/wip/runs/{w.a.run.pk}/inspect/"), w.a.order.number), w)
    assert c.get(f"/wip/runs/{w.b.run.pk}/inspect/").status_code == 404


@page_read("wip:work_order_new")
def new_work_order_form(c, w):
    hides_site_b(shows(c.get("/wip/work-orders/new/"), w.a.plant.routing.code, w.a.stores.code), w)


@page_read("wip:labels_travelers")
def travelers(c, w):
    body = shows(
        c.get(f"/wip/labels/travelers/?number={w.a.order.number}&number={w.b.order.number}"),
        f"Traveler {w.a.order.number}",
        "No work order",
    )
    assert f"Traveler {w.b.order.number}" not in body


@page_read("devices:index")
def devices_page(c, w):
    hides_site_b(shows(c.get("/devices/"), w.a.device.device_id, w.a.unknown.tag.tag_id), w)


@page_read("devices:detail")
def device_detail(c, w):
    shows(c.get(f"/devices/{w.a.device.device_id}/"), w.a.device.device_id)
    assert c.get(f"/devices/{w.b.device.device_id}/").status_code == 404


@page_read("devices:finder")
def finder(c, w):
    shows(c.get("/devices/live/find/", {"q": w.a.order.number}), 'data-kind="work_order"')
    for code in (w.b.order.number, w.b.lot.code, w.b.serial.serial, w.b.unknown.tag.tag_id):
        body = shows(c.get("/devices/live/find/", {"q": code}), f"Nothing at {w.a.site.name}")
        assert "data-kind=" not in body, code


@page_read("devices:plant")
def plant_dashboard(c, w):
    hides_site_b(shows(c.get("/devices/live/plant/"), w.a.plant.cut.code), w)


@page_read("devices:pipeline_state")
def pipeline_state_for_staff_with_the_permission(c, w):
    now = timezone.now()
    for world in (w.a, w.b):
        ReaderUploadFactory(
            device=world.device,
            status=UploadStatus.REJECTED,
            reason=f"{world.prefix} bad upload",
            received_at=now - dt.timedelta(minutes=1),
        )
        world.device.silent_since = now - dt.timedelta(hours=1)
        world.device.save(update_fields=["silent_since"])
    staff = w.user("plant manager", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_readerupload"))
    client = Client()
    client.force_login(staff)
    response = client.get("/devices/pipeline/")
    hides_site_b(shows(response, "ALPHA bad upload", w.a.device.device_id), w)
    assert "BRAVO bad upload" not in response.content.decode()
    assert response.context["queued"] == ReaderUpload.objects.filter(site=w.a.site, status=UploadStatus.QUEUED).count()


@covers(*sorted({f"{route} GET" for route, _ in PAGE_READS.values()}))
@pytest.mark.parametrize("case", sorted(PAGE_READS))
def test_page_shows_own_site_only(case, c, w):
    _, check = PAGE_READS[case]
    check(c, w)


# --- writes ----------------------------------------------------------------------------------

PAGE_WRITES: dict[str, tuple[str, Callable]] = {}


def page_write(route: str):
    def register(fn):
        PAGE_WRITES[fn.__name__] = (route, fn)
        return fn

    return register


def refused(
    c,
    url: str,
    data: dict | None = None,
    *,
    control: str | None = None,
    control_data: dict | None = None,
    status: int = 404,
):
    """POST ``url`` (about B): ``status`` and nothing written; then the control about A is not a 404."""
    with nothing_written():
        response = c.post(url, data or {})
    assert response.status_code == status, (url, response.status_code)
    if control is not None:
        answer = c.post(control, control_data if control_data is not None else (data or {}))
        assert answer.status_code not in (403, 404, 405), (control, answer.status_code)
    return response


def form_refused(c, url: str, data: dict, error: str) -> None:
    """A form naming B's object re-renders with the error; nothing is written."""
    with nothing_written():
        response = c.post(url, data)
    shows(response, error)


@page_write("tracker:alert_acknowledge")
def acknowledge_alert(c, w):
    refused(c, f"/alerts/{w.b.alert.pk}/acknowledge/", control=f"/alerts/{w.a.alert.pk}/acknowledge/")


@page_write("tracker:switch_site")
def switch_site(c, w):
    refused(c, "/site/switch/", {"site": w.b.site.code}, control="/site/switch/", control_data={"site": w.a.site.code})
    assert c.session.get(SESSION_SITE_KEY) == w.a.site.code


@page_write("inventory:receive")
def receive_at_b(c, w):
    form_refused(
        c,
        "/inventory/receive/",
        {"item": w.a.plant.screws.sku, "quantity": "1", "location": w.b.stores.code},
        "No location",
    )
    form_refused(
        c,
        "/inventory/receive/",
        {"item": w.b.serial.item.sku, "quantity": "1", "location": w.a.stores.code, "serial": w.b.serial.serial},
        w.b.serial.serial,
    )


@page_write("inventory:transfer")
def transfer_naming_b(c, w):
    a, b = w.a, w.b
    base = {"item": a.plant.screws.sku, "quantity": "1", "source": a.stores.code, "destination": a.plant.cut.code}
    form_refused(c, "/inventory/transfer/", {**base, "destination": b.stores.code}, "No location")
    form_refused(c, "/inventory/transfer/", {**base, "source": b.stores.code}, "No location")
    form_refused(c, "/inventory/transfer/", {**base, "item": b.lot.item.sku, "lot": b.lot.code}, "No lot")
    form_refused(
        c, "/inventory/transfer/", {**base, "item": b.serial.item.sku, "serial": b.serial.serial}, b.serial.serial
    )


@page_write("inventory:count")
def count_at_b(c, w):
    form_refused(
        c,
        "/inventory/count/",
        {"item": w.a.plant.screws.sku, "location": w.b.stores.code, "counted": "3"},
        "No location",
    )


@page_write("inventory:count_approve")
def approve_b_count(c, w):
    refused(c, f"/inventory/count/{w.b.count.pk}/approve/", control=f"/inventory/count/{w.a.count.pk}/approve/")


@page_write("inventory:recall")
def recall_b_lot(c, w):
    refused(
        c,
        "/inventory/recall/",
        {"lot": f"{w.b.lot.item.sku}/{w.b.lot.code}", "reason": "x"},
        control="/inventory/recall/",
        control_data={"lot": f"{w.a.lot.item.sku}/{w.a.lot.code}", "reason": "x"},
    )


@page_write("inventory:forecast_apply")
def apply_b_forecast(c, w):
    refused(
        c,
        f"/inventory/analytics/forecasts/{w.b.plant.screws.sku}/apply/",
        control=f"/inventory/analytics/forecasts/{w.a.plant.screws.sku}/apply/",
    )


@page_write("wip:station_scan")
def scan_at_b_station_or_b_order(c, w):
    refused(
        c,
        f"/wip/stations/{w.b.plant.cut.code}/scan/",
        {"traveler": w.b.order.number},
        control=f"/wip/stations/{w.a.plant.cut.code}/scan/",
        control_data={"traveler": w.a.order.number},
    )
    with nothing_written():
        response = c.post(f"/wip/stations/{w.a.plant.assemble.code}/scan/", {"traveler": w.b.order.number}, follow=True)
    shows(response, "No work order")


@page_write("wip:run_action")
def act_on_b_run(c, w):
    for verb in ("start", "pause", "resume", "complete"):
        refused(c, f"/wip/runs/{w.b.run.pk}/{verb}/")
    # A's run, at B's station: that station does not exist for this user.
    refused(
        c,
        f"/wip/runs/{w.a.run.pk}/start/",
        {"workstation": w.b.plant.cut.code},
        control=f"/wip/runs/{w.a.run.pk}/start/",
        control_data={"workstation": w.a.plant.cut.code},
    )


@page_write("wip:run_defect")
def defect_on_b_run(c, w):
    data = {"code": "DENT", "quantity": "1", "disposition": "scrap"}
    refused(c, f"/wip/runs/{w.b.run.pk}/defect/", data, control=f"/wip/runs/{w.a.run.pk}/defect/")


@page_write("wip:work_order_action")
def act_on_b_order(c, w):
    for verb, order in (
        ("release", w.b.order),
        ("complete", w.b.order),
        ("cancel", w.b.order),
        ("hold", w.b.order),
        ("release-hold", w.b.held),
    ):
        control = w.a.held if verb == "release-hold" else w.a.order
        refused(
            c,
            f"/wip/work-orders/{order.number}/{verb}/",
            {"reason": "x"},
            control=f"/wip/work-orders/{control.number}/{verb}/",
        )


@page_write("wip:inspect")
def inspect_b_run(c, w):
    refused(c, f"/wip/runs/{w.b.run.pk}/inspect/", {"passed": "pass"}, control=f"/wip/runs/{w.a.run.pk}/inspect/")


@page_write("wip:work_order_new")
def plan_with_b_routing_or_location(c, w):
    base = {"routing": w.a.plant.routing.pk, "quantity": "1", "priority": "5", "number": "SCOPE-WO"}
    form_refused(c, "/wip/work-orders/new/", {**base, "routing": w.b.plant.routing.pk}, "Select a valid choice")
    form_refused(c, "/wip/work-orders/new/", {**base, "issue_location": w.b.stores.pk}, "Select a valid choice")
    form_refused(c, "/wip/work-orders/new/", {**base, "output_location": w.b.stores.pk}, "Select a valid choice")


@page_write("wip:defect_dispose")
def dispose_b_defect(c, w):
    refused(
        c,
        f"/wip/defects/{w.b.defect.pk}/dispose/",
        {"disposition": "scrap"},
        control=f"/wip/defects/{w.a.defect.pk}/dispose/",
    )


@page_write("wip:hold_release")
def release_b_hold(c, w):
    refused(c, f"/wip/holds/{w.b.hold.pk}/release/", control=f"/wip/holds/{w.a.hold.pk}/release/")


def _jam(site):
    from wip.models import ReasonCode

    reason, _ = ReasonCode.objects.get_or_create(site=site, code="jam", defaults={"name": "Jam"})
    return reason


@page_write("wip:station_stop")
def stop_b_station_or_with_b_reason(c, w):
    jam_a, jam_b = _jam(w.a.site), _jam(w.b.site)
    refused(
        c,
        f"/wip/stations/{w.b.plant.cut.code}/stop/",
        {"reason": jam_b.pk},
        control=f"/wip/stations/{w.a.plant.cut.code}/stop/",
        control_data={"reason": jam_a.pk},
    )
    with nothing_written():
        response = c.post(f"/wip/stations/{w.a.plant.assemble.code}/stop/", {"reason": jam_b.pk}, follow=True)
    shows(response, "Pick a stop reason")


@page_write("wip:station_resume")
def resume_b_station(c, w):
    from wip import services

    for world in (w.a, w.b):
        services.station_stop(workstation=world.plant.cut, reason=_jam(world.site))
    refused(c, f"/wip/stations/{w.b.plant.cut.code}/resume/", control=f"/wip/stations/{w.a.plant.cut.code}/resume/")


@page_write("wip:state_reason")
def reason_for_b_stop(c, w):
    from wip import services

    rows = [
        services.station_device_signal(workstation=world.plant.test, state="stopped", at=timezone.now())[0]
        for world in (w.a, w.b)
    ]
    jam_a, jam_b = _jam(w.a.site), _jam(w.b.site)
    refused(
        c,
        f"/wip/station-states/{rows[1].pk}/reason/",
        {"reason": jam_b.pk},
        control=f"/wip/station-states/{rows[0].pk}/reason/",
        control_data={"reason": jam_a.pk},
    )


@page_write("devices:assign_unknown")
def assign_b_tag_or_to_b_order(c, w):
    data = {"target_kind": "container", "reference": "TOTE-1"}
    refused(c, f"/devices/unknown/{w.b.unknown.pk}/assign/", data)
    with nothing_written():
        response = c.post(
            f"/devices/unknown/{w.a.unknown.pk}/assign/",
            {"target_kind": "work_order", "reference": w.b.order.number},
            follow=True,
        )
    shows(response, "No work order")
    answer = c.post(f"/devices/unknown/{w.a.unknown.pk}/assign/", data)
    assert answer.status_code == 302


@covers(*sorted({f"{route} POST" for route, _ in PAGE_WRITES.values()}))
@pytest.mark.parametrize("case", sorted(PAGE_WRITES))
def test_page_write_naming_another_site_is_refused(case, c, w):
    _, check = PAGE_WRITES[case]
    check(c, w)


def test_scan_lookup_names_items_only_to_users_who_may_see_items(db):
    """Not site data (items are global), but the GTIN's SKU is an item read like any other."""
    from tests.factories.inventory import ItemFactory
    from tests.factories.tracker import SiteFactory, user_with_role

    ItemFactory(sku="SCAN-SKU", gtin="4006381333931")
    site = SiteFactory(code="scan-a")
    for user, sku in (
        (user_with_role("operator", site), "SCAN-SKU"),
        (user_with_role(None, site), None),
        (user_with_role("viewer"), None),
    ):
        client = Client()
        client.force_login(user)
        assert client.get("/inventory/scan/", {"code": "(01)04006381333931"}).json()["sku"] == sku
