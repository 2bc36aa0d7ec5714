from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.models import AuditEvent
from tracker.roles import ROLE_NAMES

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_each_dependency(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"] and body["checks"]["broker"]["ok"]


def test_login_page_and_redirect_for_anonymous(client):
    assert client.get("/accounts/login/").status_code == 200
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_dashboard_and_alert_inbox_show_own_site_only(role):
    site_a, site_b = SiteFactory(name="Alpha Works"), SiteFactory(name="Bravo Works")
    services.alert_raise(site=site_a, kind="k", subject="alpha-thing", message="Alpha needs attention")
    services.alert_raise(site=site_b, kind="k", subject="bravo-thing", message="Bravo needs attention")
    client = Client()
    client.force_login(user_with_role(role, site_a))
    home = client.get("/").content.decode()
    assert "Alpha Works" in home and "Bravo Works" not in home
    inbox = client.get("/alerts/").content.decode()
    assert "Bravo needs attention" not in inbox
    if role != "partner":
        assert "Alpha needs attention" in inbox
    # switching to a site one does not hold is a 404 and changes nothing
    assert client.post("/site/switch/", {"site": site_b.code}).status_code == 404
    assert "Bravo Works" not in client.get("/").content.decode()


def test_user_without_site_sees_explanation():
    client = Client()
    client.force_login(user_with_role("viewer"))
    assert "no site" in client.get("/").content.decode().lower()


def test_admin_creates_user_role_and_site_grant_then_user_sees_that_site():
    site_a, _ = SiteFactory(name="Alpha Works"), SiteFactory(name="Bravo Works")
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    c = Client()
    c.force_login(admin)
    response = c.post(
        "/admin/auth/user/add/",
        {
            "username": "newbie",
            "password1": "a-Long-pass-123",
            "password2": "a-Long-pass-123",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.get(username="newbie")
    user.groups.add(Group.objects.get(name="viewer"))
    # guardian's admin: grant view_site on site A to the user
    response = c.post(
        f"/admin/tracker/site/{site_a.pk}/permissions/",
        {"user": "newbie", "submit_manage_user": "submit"},
    )
    assert response.status_code == 302
    response = c.post(
        f"/admin/tracker/site/{site_a.pk}/permissions/user-manage/{user.pk}/",
        {"permissions": ["view_site"]},
    )
    assert response.status_code == 302
    logged = Client()
    assert logged.login(username="newbie", password="a-Long-pass-123")
    page = logged.get("/").content.decode()
    assert "Alpha Works" in page and "Bravo Works" not in page
    assert AuditEvent.objects.filter(action="auth.login", object_repr="newbie").exists()
    assert AuditEvent.objects.filter(action="access.site.granted").exists()


def test_audit_trail_is_read_only_in_admin():
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    c = Client()
    c.force_login(admin)
    assert c.get("/admin/tracker/auditevent/").status_code == 200
    assert c.get("/admin/tracker/auditevent/add/").status_code == 403


def test_failed_login_is_audited(client):
    client.post("/accounts/login/", {"username": "ghost", "password": "nope"})
    assert AuditEvent.objects.filter(action="auth.login_failed", object_repr="ghost").exists()


def test_openapi_schema_and_docs(client):
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    client.force_login(admin)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/sites/" in schema.json()["paths"]
    assert client.get("/api/v1/docs/").status_code == 200


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 64 + "production-like-secret-key-value-for-check",
        "ALLOWED_HOSTS": "shopfloor.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://shopfloor.example.com",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
