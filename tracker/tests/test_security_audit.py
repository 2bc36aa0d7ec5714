"""The audit trail records access changes and admin edits, names the actor, and cannot be edited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory

from tests.factories.tracker import SiteFactory, UserFactory, user_with_role
from tracker import services
from tracker.middleware import current_request_var
from tracker.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    admin = user_with_role(None, username="boss", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    return client, admin


def _acting_as(user):
    request = RequestFactory().get("/")
    request.user = user
    return current_request_var.set(request)


def test_user_permission_and_group_permission_changes_are_audited():
    user = UserFactory()
    perm = Permission.objects.get(codename="view_site")
    user.user_permissions.add(perm)
    event = AuditEvent.objects.get(action="auth.permissions.add", object_id=str(user.pk))
    assert event.changes["permissions"] == [perm.pk]
    user.user_permissions.remove(perm)
    assert AuditEvent.objects.filter(action="auth.permissions.remove", object_id=str(user.pk)).exists()

    group = Group.objects.get(name="viewer")
    delete_site = Permission.objects.get(codename="delete_site")
    group.permissions.add(delete_site)
    latest = AuditEvent.objects.filter(action="auth.group_permissions.add", object_id=str(group.pk)).latest("pk")
    assert latest.changes["permissions"] == [delete_site.pk]
    group.permissions.clear()
    assert AuditEvent.objects.filter(action="auth.group_permissions.clear", object_id=str(group.pk)).exists()


def test_role_changes_from_either_side_are_audited():
    user = UserFactory()
    group = Group.objects.get(name="planner")
    user.groups.add(group)
    assert AuditEvent.objects.filter(action="auth.roles.add", object_id=str(user.pk)).exists()
    group.user_set.remove(user)
    event = AuditEvent.objects.get(action="auth.roles.remove", object_id=str(group.pk))
    assert event.changes["members"] == [user.pk]


def test_staff_and_superuser_flag_changes_are_audited_with_the_actor():
    boss = user_with_role(None, is_superuser=True, is_staff=True)
    user = UserFactory()
    token = _acting_as(boss)
    try:
        user.is_staff = True
        user.save()
        user.is_active = False
        user.save()
    finally:
        current_request_var.reset(token)
    events = list(AuditEvent.objects.filter(action="auth.user.privileges", object_id=str(user.pk)).order_by("pk"))
    assert [e.changes for e in events] == [{"is_staff": [False, True]}, {"is_active": [True, False]}]
    assert all(e.actor == boss for e in events)


def test_creating_a_superuser_is_audited_and_plain_saves_are_not():
    user = UserFactory(is_superuser=True, is_staff=True)
    assert AuditEvent.objects.get(action="auth.user.privileges", object_id=str(user.pk)).changes == {
        "is_staff": True,
        "is_superuser": True,
    }
    plain = UserFactory()
    plain.first_name = "Pat"
    plain.save()
    plain.save(update_fields=["last_login"])
    assert not AuditEvent.objects.filter(action="auth.user.privileges", object_id=str(plain.pk)).exists()


def test_site_grant_names_the_admin_who_made_it(admin_client):
    client, admin = admin_client
    site = SiteFactory()
    user = user_with_role("viewer", username="newbie")
    response = client.post(
        f"/admin/tracker/site/{site.pk}/permissions/user-manage/{user.pk}/", {"permissions": ["view_site"]}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="access.site.granted", actor=admin).exists()


def test_admin_changes_are_audited(admin_client):
    client, admin = admin_client
    assert client.post("/admin/auth/group/add/", {"name": "auditors"}).status_code == 302
    event = AuditEvent.objects.get(action="admin.add", object_type="auth.group")
    assert event.actor == admin and event.object_repr == "auditors"


def test_key_creation_and_revocation_are_audited(admin_client):
    _, admin = admin_client
    key, _ = services.api_key_create(user=user_with_role("partner"), name="ERP", created_by=admin)
    services.api_key_revoke(key=key, revoked_by=admin)
    assert AuditEvent.objects.filter(action="apikey.created", object_id=str(key.pk), actor=admin).exists()
    assert AuditEvent.objects.filter(action="apikey.revoked", object_id=str(key.pk), actor=admin).exists()


def test_audit_trail_cannot_be_added_changed_or_deleted_in_admin(admin_client):
    client, _ = admin_client
    UserFactory().user_permissions.add(Permission.objects.get(codename="view_site"))
    event = AuditEvent.objects.latest("pk")
    count = AuditEvent.objects.count()
    assert client.get("/admin/tracker/auditevent/").status_code == 200
    assert client.get(f"/admin/tracker/auditevent/{event.pk}/change/").status_code == 200  # view only
    assert client.post("/admin/tracker/auditevent/add/", {"action": "forged"}).status_code == 403
    assert client.post(f"/admin/tracker/auditevent/{event.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"/admin/tracker/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(
        "/admin/tracker/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert bulk.status_code in {200, 302, 403}
    event.refresh_from_db()
    assert event.action == "auth.permissions.add"
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert not AuditEvent.objects.filter(action="forged").exists()
    assert AuditEvent.objects.count() >= count
