"""Labels scanned on the receive, transfer and count pages: the endpoint static/inventory/scan.js
calls, and the same filling done by the forms when a scan is submitted without JavaScript."""

from __future__ import annotations

import pytest
from django.test import Client

from inventory.labels.views import location_label
from inventory.models import CycleCount, StockLevel
from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import user_with_role
from tracker.labels import Symbology

pytestmark = pytest.mark.django_db
SITE_GLN = "5790000000012"


@pytest.fixture
def clerk_client(site_a):
    client = Client()
    client.force_login(user_with_role("warehouse clerk", site_a))
    return client


@pytest.fixture
def labelled(site_a, site_b, bins, bin_b):
    """The scanner text of each bin's label (site GLN + location code as extension)."""
    for site, gln in ((site_a, SITE_GLN), (site_b, "4000001000005")):
        site.gln = gln
        site.save()
    texts = {}
    for location in (bins[1], bins[2], bin_b):
        location.refresh_from_db()
        label = location_label(location, symbology=Symbology.GS1_128, errors=[])
        texts[location.code] = "]C1" + label.gs1.element_string
    return texts


def test_scan_endpoint_resolves_location_labels_at_the_current_site(clerk_client, labelled, django_assert_num_queries):
    data = clerk_client.get("/inventory/scan/", {"code": labelled["A-BIN1"]}).json()
    assert (data["location"], data.get("error")) == ("A-BIN1", None)
    qr = clerk_client.get("/inventory/scan/", {"code": f"]Q1https://id.gs1.org/414/{SITE_GLN}/254/A-BIN2"}).json()
    assert qr["location"] == "A-BIN2"
    other = clerk_client.get("/inventory/scan/", {"code": labelled["B-BIN1"]}).json()
    assert other["location"] is None and "No location with GLN 4000001000005 extension B-BIN1" in other["error"]
    # The same answer for a site that does not exist: nothing says B-BIN1 is somewhere else.
    missing = clerk_client.get("/inventory/scan/", {"code": "]C14144000001000005254B-NONE"}).json()
    assert missing["error"].replace("B-NONE", "B-BIN1") == other["error"]
    with django_assert_num_queries(
        8
    ):  # session, user, 2 permission caches, site ids, profile, current site; the location
        clerk_client.get("/inventory/scan/", {"code": labelled["A-BIN1"]})


def test_transfer_scans_fill_from_then_to_without_javascript(clerk_client, bins, labelled):
    item = ItemFactory(sku="TS-1")
    receive(item, bins[1], 5)
    first = clerk_client.post("/inventory/transfer/", {"scan": labelled["A-BIN1"], "item": "TS-1", "quantity": "2"})
    assert first.status_code == 200  # "To" still missing: the page comes back with "From" filled
    form = first.context["form"]
    assert form["source"].value() == "A-BIN1" and not form["destination"].value() and form["scan"].value() == ""
    assert "Give the location" in str(form.errors["destination"])
    second = clerk_client.post("/inventory/transfer/", {**form.data.dict(), "scan": labelled["A-BIN2"]})
    assert second.status_code == 302, second.context["form"].errors
    assert StockLevel.objects.get(item=item, location=bins[2]).on_hand == 2
    full = clerk_client.post(
        "/inventory/transfer/",
        {"scan": labelled["A-BIN1"], "item": "TS-1", "quantity": "1", "source": "A-BIN1", "destination": "A-BIN2"},
    )
    assert "location fields are filled" in full.content.decode()


def test_another_sites_bin_label_does_not_fill_the_transfer(clerk_client, bins, labelled):
    receive(ItemFactory(sku="TS-2"), bins[1], 5)
    page = clerk_client.post(
        "/inventory/transfer/", {"scan": labelled["B-BIN1"], "item": "TS-2", "quantity": "1", "source": "A-BIN1"}
    )
    assert page.status_code == 200 and "No location with GLN" in page.content.decode()
    assert StockLevel.objects.filter(location__code="B-BIN1").count() == 0


def test_receive_and_count_take_the_location_from_its_label(clerk_client, bins, labelled):
    item = ItemFactory(sku="RC-1")
    r = clerk_client.post("/inventory/receive/", {"scan": labelled["A-BIN2"], "item": "RC-1", "quantity": "3"})
    assert r.status_code == 302, r.context["form"].errors
    assert StockLevel.objects.get(item=item, location=bins[2]).on_hand == 3
    r = clerk_client.post("/inventory/count/", {"scan": labelled["A-BIN2"], "item": "RC-1", "counted": "2"})
    assert r.status_code == 302, r.context["form"].errors
    assert CycleCount.objects.get(location=bins[2]).lines.get().counted == 2


def test_pages_tell_the_script_which_fields_a_location_fills(clerk_client, bins):
    body = clerk_client.get("/inventory/transfer/").content.decode()
    assert 'data-scan-locations="source,destination"' in body and "data-scan-status" in body
    assert 'data-scan-locations="location"' in clerk_client.get("/inventory/receive/").content.decode()
    assert 'data-scan-locations="location"' in clerk_client.get("/inventory/count/").content.decode()
