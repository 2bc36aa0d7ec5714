"""The devices page (scoped, assign unknown tags) and the admin (keys shown once,
revocation, read-only uploads, assignments through the service)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from devices.models import DeviceKey, ReaderUpload, TagAssignment, UnknownTag
from tests.factories.devices import (
    DeviceFactory,
    ReaderUploadFactory,
    ReadPointFactory,
    TagAssignmentFactory,
    TagFactory,
    ThresholdRuleFactory,
    device_with_key,
)
from tests.factories.tracker import user_with_role
from tests.scoping import assert_page_scoped
from tracker.keys import key_matches

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def unknown(site, tag_id="epc:hex:E28011606000020500000AAA"):
    tag = TagFactory(site=site, tag_id=tag_id)
    now = timezone.now()
    return UnknownTag.objects.create(tag=tag, site=site, first_seen_at=now, last_seen_at=now, reads=3)


# ------------------------------------------------------------------ devices page


def test_devices_page_shows_the_users_site_only(site_a, site_b):
    DeviceFactory(site=site_a, device_id="READER-OF-A", battery_pct=81)
    DeviceFactory(site=site_b, device_id="READER-OF-B")
    unknown(site_a, "epc:hex:AAAA")
    unknown(site_b, "epc:hex:BBBB")
    client = client_for(user_with_role("warehouse clerk", site_a))
    assert_page_scoped(client, "/devices/", "READER-OF-A", "READER-OF-B")
    body = client.get("/devices/").content.decode()
    assert "epc:hex:AAAA" in body and "epc:hex:BBBB" not in body and "81 %" in body


def test_devices_nav_entry_for_roles_that_see_devices(site_a):
    assert 'href="/devices/"' in client_for(user_with_role("viewer", site_a)).get("/").content.decode()
    assert 'href="/devices/"' not in client_for(user_with_role("operator", site_a)).get("/").content.decode()


def test_device_detail_is_404_for_another_site(site_a, site_b):
    mine = DeviceFactory(site=site_a)
    ReadPointFactory(device=mine, port=1)
    ReaderUploadFactory(device=mine)
    theirs = DeviceFactory(site=site_b)
    client = client_for(user_with_role("plant manager", site_a))
    assert client.get(f"/devices/{mine.device_id}/").status_code == 200
    assert client.get(f"/devices/{theirs.device_id}/").status_code == 404


def test_devices_page_query_count_is_flat(site_a, django_assert_num_queries):
    client = client_for(user_with_role("plant manager", site_a))
    DeviceFactory(site=site_a)
    unknown(site_a, "epc:hex:0001")
    client.get("/devices/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get("/devices/")
    for n in range(10):
        DeviceFactory(site=site_a)
        unknown(site_a, f"epc:hex:1{n:03d}")
    with django_assert_num_queries(len(one.captured_queries)):
        client.get("/devices/")


def test_live_partial_for_htmx(site_a):
    DeviceFactory(site=site_a, device_id="LIVE-1")
    client = client_for(user_with_role("viewer", site_a))
    response = client.get("/devices/?part=devices", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "LIVE-1" in body and "<html" not in body


def test_assign_an_unknown_tag_from_the_page(site_a):
    u = unknown(site_a)
    client = client_for(user_with_role("plant manager", site_a))
    response = client.post(f"/devices/unknown/{u.pk}/assign/", {"target_kind": "container", "reference": "TOTE-9"})
    assert response.status_code == 302
    assignment = TagAssignment.objects.get(tag=u.tag)
    assert assignment.target_kind == "container" and assignment.code == "TOTE-9" and assignment.valid_to is None
    assert not UnknownTag.objects.exists()


def test_assign_to_a_work_order_by_number(site_a):
    from tests.factories.wip import OperationFactory, RoutingFactory, WorkOrderFactory, WorkstationFactory

    routing = RoutingFactory(site=site_a)
    OperationFactory(routing=routing, workstation=WorkstationFactory(site=site_a))
    order = WorkOrderFactory(routing=routing, number="WO-555")
    u = unknown(site_a)
    client = client_for(user_with_role("plant manager", site_a))
    client.post(f"/devices/unknown/{u.pk}/assign/", {"target_kind": "work_order", "reference": "WO-555"})
    assert TagAssignment.objects.get(tag=u.tag).work_order == order
    u2 = unknown(site_a, "epc:hex:0BAD")
    response = client.post(
        f"/devices/unknown/{u2.pk}/assign/", {"target_kind": "work_order", "reference": "WO-404"}, follow=True
    )
    assert "No work order" in response.content.decode()
    assert UnknownTag.objects.filter(pk=u2.pk).exists()


def test_assigning_needs_the_permission_and_the_site(site_a, site_b):
    mine, theirs = unknown(site_a, "epc:hex:0A"), unknown(site_b, "epc:hex:0B")
    viewer = client_for(user_with_role("viewer", site_a))
    assert (
        viewer.post(f"/devices/unknown/{mine.pk}/assign/", {"target_kind": "asset", "reference": "X"}).status_code
        == 404
    )
    manager = client_for(user_with_role("plant manager", site_a))
    assert (
        manager.post(f"/devices/unknown/{theirs.pk}/assign/", {"target_kind": "asset", "reference": "X"}).status_code
        == 404
    )
    assert not TagAssignment.objects.exists()


# ------------------------------------------------------------------ admin


@pytest.fixture
def admin_client(db):
    return client_for(user_with_role(None, is_superuser=True, is_staff=True))


def test_admin_lists_render(admin_client, site_a):
    device, _ = device_with_key(site=site_a)
    # Ports named: the factory's sequence (port n % 8 + 1) may hand out 7, taken below.
    ReadPointFactory(device=device, port=1)
    ReaderUploadFactory(device=device)
    TagAssignmentFactory(tag=TagFactory(site=site_a))
    ThresholdRuleFactory(site=site_a, location=ReadPointFactory(device=device, port=7).location)
    for model in (
        "device",
        "devicekey",
        "readpoint",
        "tag",
        "tagassignment",
        "tagstate",
        "unknowntag",
        "readerupload",
        "sensorsample",
        "thresholdrule",
        "zonesetting",
    ):
        url = f"/admin/devices/{model}/"
        if model == "readpoint":
            continue  # edited inline on the device
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(f"/admin/devices/device/{device.pk}/change/").status_code == 200


def test_admin_key_is_shown_once_and_stored_hashed(admin_client, site_a):
    device = DeviceFactory(site=site_a)
    response = admin_client.post("/admin/devices/devicekey/add/", {"device": device.pk, "name": "gateway"}, follow=True)
    text = response.content.decode()
    key = DeviceKey.objects.get(device=device)
    secret = next(w for w in text.replace("<", " ").split() if w.startswith("sfd_"))
    assert key_matches(secret, key.hashed_key) and secret not in key.hashed_key
    page = admin_client.get(f"/admin/devices/devicekey/{key.pk}/change/").content.decode()
    assert secret not in page


def test_admin_revokes_keys(admin_client, site_a):
    device, _ = device_with_key(site=site_a)
    key = device.keys.get()
    admin_client.post("/admin/devices/devicekey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_create_key_action_on_devices(admin_client, site_a):
    device = DeviceFactory(site=site_a)
    response = admin_client.post(
        "/admin/devices/device/", {"action": "create_key", "_selected_action": [device.pk]}, follow=True
    )
    assert "sfd_" in response.content.decode()
    assert device.keys.count() == 1


def test_admin_upload_is_read_only_and_shows_the_raw_body(admin_client, site_a):
    upload = ReaderUploadFactory(device=DeviceFactory(site=site_a), body=b'[{"raw": "as received"}]')
    page = admin_client.get(f"/admin/devices/readerupload/{upload.pk}/change/").content.decode()
    assert "as received" in page
    admin_client.post(f"/admin/devices/readerupload/{upload.pk}/change/", {"status": "processed"})
    upload.refresh_from_db()
    assert upload.status == "queued"
    assert admin_client.get("/admin/devices/readerupload/add/").status_code == 403
    assert ReaderUpload.objects.count() == 1


def test_admin_assignment_closes_the_previous_one(admin_client, site_a):
    tag = TagFactory(site=site_a)
    first = TagAssignmentFactory(tag=tag, code="TOTE-1")
    response = admin_client.post(
        "/admin/devices/tagassignment/add/",
        {
            "tag": tag.pk,
            "target_kind": "container",
            "code": "TOTE-2",
            "valid_from_0": timezone.now().strftime("%Y-%m-%d"),
            "valid_from_1": timezone.now().strftime("%H:%M:%S"),
        },
    )
    import re

    assert response.status_code == 302, re.findall(r'class="errorlist[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    first.refresh_from_db()
    assert first.valid_to is not None
    assert TagAssignment.objects.get(tag=tag, valid_to__isnull=True).code == "TOTE-2"


def test_the_assign_control_is_offered_only_to_who_may_assign(site_a):
    """Seeing unknown tags (viewer, clerk) is not assigning them: only a user holding the tag-change
    permission the assign view checks gets the control, with every target kind the service takes."""
    u = unknown(site_a, "epc:hex:0C0FFEE")
    for role in ("viewer", "warehouse clerk"):
        body = client_for(user_with_role(role, site_a)).get("/devices/").content.decode()
        assert "epc:hex:0C0FFEE" in body, role
        assert f"/devices/unknown/{u.pk}/assign/" not in body and "Assign to" not in body, role
    body = client_for(user_with_role("plant manager", site_a)).get("/devices/").content.decode()
    assert f'action="/devices/unknown/{u.pk}/assign/"' in body
    for kind in ("serial", "lot", "work_order", "container", "asset"):
        assert f'<option value="{kind}">' in body, kind
