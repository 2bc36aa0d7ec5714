"""The admin shows every site's rows, so every model holding site data is superuser-only
there (tracker/security/admin_site.py); the few global models keep Django's model
permissions, and this list of them is reviewed."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.factories.tracker import SiteFactory, user_with_role
from tests.scoping import SCOPING
from tracker.security.admin_site import SuperuserOnlyAdmin, superuser_only

pytestmark = [pytest.mark.django_db, SCOPING]

#: Registered models without site data, open to staff holding their model permissions.
GLOBAL_MODELS = {
    "auth.User": "accounts (granting auth.change_user is granting superuser: only admins get it)",
    "auth.Group": "roles",
    "inventory.Item": "global master data, the same at every site",
    "axes.AccessAttempt": "login lockouts (unlocking is a staff task)",
    "axes.AccessLog": "login history",
    "axes.AccessFailureLog": "failed logins",
}


def _registered():
    return sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)


def _urls(model) -> list[str]:
    opts = model._meta
    return [reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}") for view in ("changelist", "add")]


@pytest.fixture
def staff_with_every_permission():
    """A staff member whose roles and own permissions hold every model permission, at a site."""
    user = user_with_role("plant manager", SiteFactory(code="adm-a"), is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    client = Client()
    client.force_login(user)
    return client


def test_every_model_with_site_data_is_superuser_only_and_the_rest_is_reviewed():
    site_data = {
        model._meta.label for model, model_admin in _registered() if isinstance(model_admin, SuperuserOnlyAdmin)
    }
    assert site_data == {model._meta.label for model, _ in _registered() if superuser_only(model)}
    assert "otp_totp.TOTPDevice" in site_data  # second-factor secrets, not site data, but superusers only
    assert {model._meta.label for model, _ in _registered()} - site_data == set(GLOBAL_MODELS)


@pytest.mark.parametrize("label", sorted(m._meta.label for m, _ in admin.site._registry.items() if superuser_only(m)))
def test_staff_cannot_open_site_data_in_the_admin(staff_with_every_permission, label):
    model = next(m for m, _ in _registered() if m._meta.label == label)
    for url in _urls(model):
        assert staff_with_every_permission.get(url).status_code == 403, url
    index = staff_with_every_permission.get(reverse("admin:index")).content.decode()
    assert reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") not in index


def test_superusers_open_every_changelist():
    client = Client()
    client.force_login(user_with_role(None, is_superuser=True, is_staff=True))
    for model, _ in _registered():
        url = _urls(model)[0]
        assert client.get(url).status_code == 200, url


def test_staff_still_manage_global_models(staff_with_every_permission):
    assert staff_with_every_permission.get(reverse("admin:inventory_item_changelist")).status_code == 200
