"""Attacks on the doors: login throttling and lockout, second factor, CSP and headers, fail-closed scoping."""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, UserFactory, user_with_role
from tracker import scoping, services
from tracker.models import AuditEvent, Location, Site

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-0"  # UserFactory's


def _fail(client, url="/accounts/login/", username="alice", times=1, **extra):
    responses = [client.post(url, {"username": username, "password": "wrong"}, **extra) for _ in range(times)]
    return responses[-1]


# --- login throttling and lockout ------------------------------------------------


def test_page_login_locks_out_after_repeated_failures_then_admin_unlocks(settings):
    UserFactory(username="alice")
    client = Client()
    _fail(client, times=settings.AXES_FAILURE_LIMIT)
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert client.get("/").status_code == 302  # not logged in despite the right password
    assert AuditEvent.objects.filter(action="auth.locked_out", object_repr="alice").exists()
    assert (
        AuditEvent.objects.filter(action="auth.login_failed", object_repr="alice").count()
        >= settings.AXES_FAILURE_LIMIT
    )

    # The admin's axes pages list the attempt; deleting it unlocks.
    admin = Client()
    admin.force_login(user_with_role(None, is_superuser=True, is_staff=True))
    attempt = AccessAttempt.objects.get(username="alice")
    assert "alice" in admin.get("/admin/axes/accessattempt/").content.decode()
    assert admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert AuditEvent.objects.filter(action="admin.delete", object_type="axes.accessattempt").exists()

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and client.get("/").status_code == 200


def test_lockout_is_per_username_and_address(settings):
    UserFactory(username="alice")
    UserFactory(username="bob")
    _fail(Client(), times=settings.AXES_FAILURE_LIMIT)
    # Same user from another address (another terminal), and another user from the same address: not locked.
    other_ip = Client(REMOTE_ADDR="10.20.30.40")
    assert other_ip.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert Client().post("/accounts/login/", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_admin_login_is_throttled_too(settings):
    user_with_role(None, username="root", is_superuser=True, is_staff=True)
    client = Client()
    _fail(client, url="/admin/login/", username="root", times=settings.AXES_FAILURE_LIMIT)
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_failures_below_the_limit_are_forgotten_after_a_success(settings):
    UserFactory(username="alice")
    client = Client()
    _fail(client, times=settings.AXES_FAILURE_LIMIT - 1)
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    _fail(client, times=settings.AXES_FAILURE_LIMIT - 1)
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_lockout_does_not_affect_api_keys_or_force_login(settings):
    site = SiteFactory()
    user = user_with_role("partner", site, username="erp")
    _, secret = services.api_key_create(user=user, name="ERP")
    _fail(Client(), username="erp", times=settings.AXES_FAILURE_LIMIT + 1)
    assert AccessAttempt.objects.filter(username="erp").exists()
    response = APIClient().get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200 and [s["code"] for s in response.json()["results"]] == [site.code]
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200


def test_client_login_without_request_still_works():
    """Shell, commands and Client.login() call authenticate() without a request: no lockout check, no crash."""
    UserFactory(username="alice")
    assert Client().login(username="alice", password=PASSWORD)
    assert not Client().login(username="alice", password="wrong")


# --- second factor ----------------------------------------------------------------


@pytest.fixture
def require_2fa(settings):
    settings.SHOPFLOOR_REQUIRE_2FA_FOR_STAFF = True
    # django-otp delays a device after a wrong code (tested below); tests retry at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def _token(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0):0{device.digits}d}"


def test_admin_needs_no_second_factor_when_setting_is_off(settings):
    settings.SHOPFLOOR_REQUIRE_2FA_FOR_STAFF = False
    client = Client()
    client.force_login(user_with_role(None, is_superuser=True, is_staff=True))
    assert client.get("/admin/").status_code == 200


def test_staff_without_device_is_sent_to_enroll_then_reaches_admin(require_2fa):
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/setup/")
    page = response.content.decode()
    assert "<svg" in page and "<script" not in page.split("<main", 1)[1]  # QR inline, no script
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert device.config_url.startswith("otpauth://totp/")

    wrong = client.post("/accounts/2fa/setup/", {"token": "000000", "next": "/admin/"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302

    done = client.post("/accounts/2fa/setup/", {"token": _token(device), "next": "/admin/"})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="auth.2fa.enrolled", actor=admin).exists()
    assert AuditEvent.objects.filter(action="auth.2fa.failed", actor=admin).exists()


def test_staff_with_device_must_verify_each_session(require_2fa):
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/verify/")
    # A password-only session cannot enroll an extra device either.
    assert client.get("/accounts/2fa/setup/")["Location"].startswith("/accounts/2fa/verify/")
    assert client.post("/accounts/2fa/verify/", {"token": "123456", "next": "/admin/"}).status_code == 200
    assert client.get("/admin/").status_code == 302
    ok = client.post("/accounts/2fa/verify/", {"token": _token(device), "next": "/admin/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.2fa.verified", actor=admin).exists()


def test_wrong_codes_throttle_the_device(require_2fa, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin)
    client.post("/accounts/2fa/verify/", {"token": "000000"})
    # Right code straight after a wrong one: refused while the device is throttled.
    assert client.post("/accounts/2fa/verify/", {"token": _token(device), "next": "/admin/"}).status_code == 200
    assert client.get("/admin/").status_code == 302


def test_verify_refuses_offsite_next(require_2fa):
    admin = user_with_role(None, is_superuser=True, is_staff=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin)
    response = client.post("/accounts/2fa/verify/", {"token": _token(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


def test_non_staff_pages_unaffected_by_2fa_setting(require_2fa):
    site = SiteFactory()
    client = Client()
    client.force_login(user_with_role("viewer", site))
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 302  # not staff: admin login, as before


def test_two_factor_pages_need_login():
    assert Client().get("/accounts/2fa/setup/")["Location"].startswith("/accounts/login/")
    assert Client().get("/accounts/2fa/verify/")["Location"].startswith("/accounts/login/")


# --- CSP and headers -----------------------------------------------------------------


class _Scripts(html.parser.HTMLParser):
    """Collects inline <script> bodies (executable ones) and inline <style> elements."""

    def __init__(self):
        super().__init__()
        self.inline_scripts: list[str] = []
        self.styles = 0
        self.srcs: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.srcs.append(attrs["src"])
            elif attrs.get("type") not in {"application/json", "application/ld+json"}:
                self._in_script = True
                self.inline_scripts.append("")
        if tag == "style":
            self.styles += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts[-1] += data


def _parse(response) -> _Scripts:
    parser = _Scripts()
    parser.feed(response.content.decode())
    return parser


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in header.split("; ")}


def test_pages_carry_a_strict_policy_and_the_security_headers(client):
    response = client.get("/accounts/login/")
    policy = _policy(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["connect-src"].startswith("'self'") and "ws://localhost:*" in policy["connect-src"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    page = response.content.decode()
    assert 'name="htmx-config"' in page and '"includeIndicatorStyles": false' in page


def test_session_and_csrf_cookies_are_http_only(client):
    UserFactory(username="alice")
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.cookies["sessionid"]["httponly"]
    assert client.cookies["csrftoken"]["httponly"]


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/",
        "/alerts/",
        "/admin/",
        "/admin/tracker/site/",
        "/admin/tracker/site/add/",
        "/admin/auth/user/",
        "/admin/axes/accessattempt/",
        "/api/v1/sites/",
        "/api/v1/docs/",
    ],
)
def test_no_inline_script_on_pages_admin_and_api(path):
    site = SiteFactory()
    client = Client()
    client.force_login(user_with_role("plant manager", site, is_superuser=True, is_staff=True))
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, path
    parsed = _parse(response)
    assert parsed.inline_scripts == [], (path, parsed.inline_scripts)
    assert all(src.startswith("/") and "//" not in src for src in parsed.srcs), parsed.srcs  # no CDN
    if path != "/api/v1/docs/":
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert parsed.styles == 0 or path.startswith("/api/"), path


def test_swagger_ui_loads_its_init_script_from_self_and_sidecar_assets(client):
    client.force_login(user_with_role(None, is_superuser=True, is_staff=True))
    page = client.get("/api/v1/docs/")
    parsed = _parse(page)
    assert any("script" in src and src.startswith("/api/v1/docs/") for src in parsed.srcs)
    assert any("drf_spectacular_sidecar" in src for src in parsed.srcs)
    policy = _policy(page)
    assert policy["script-src"] == "'self'"  # only styles are relaxed on this page
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_production_settings_are_hardened():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "y" * 64,
        "ALLOWED_HOSTS": "shopfloor.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://shopfloor.example.com",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for name in ("DATABASE_URL", "LOG_FORMAT", "REQUIRE_2FA_FOR_STAFF"):
        env.pop(name, None)
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS > 0,"
        " s.SECURE_SSL_REDIRECT, s.SHOPFLOOR_REQUIRE_2FA_FOR_STAFF, s.LOG_FORMAT,"
        " s.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "True True True True True True json [\"'self'\", 'wss://shopfloor.example.com:*']"
    ), result.stdout


# --- fail-closed scoping ------------------------------------------------------------------


def test_exception_while_deciding_denies(monkeypatch, site_a):
    user = user_with_role("plant manager", site_a)
    assert Site.objects.restrict(user, "view").exists()

    def boom(user):
        raise RuntimeError("permission store unavailable")

    monkeypatch.setattr(scoping, "granted_site_ids", boom)
    assert list(Site.objects.restrict(user, "view")) == []
    assert list(Location.objects.restrict(user, "view")) == []
    assert scoping.user_can_access_site(user, site_a) is False
    client = APIClient()
    client.force_authenticate(user)
    listing = client.get("/api/v1/sites/")
    assert listing.status_code == 200 and listing.json()["results"] == []
    assert client.get(f"/api/v1/sites/{site_a.code}/").status_code == 404


def test_exception_in_permission_lookup_denies(monkeypatch, site_a):
    user = user_with_role("plant manager", site_a)

    def boom(*args, **kwargs):
        raise RuntimeError("backend down")

    monkeypatch.setattr(type(user), "has_perm", boom)
    assert list(Site.objects.restrict(user, "view")) == []


@pytest.mark.parametrize("action", ["frobnicate", "", "VIEW", "view_site", None])
def test_unknown_action_denies(site_a, action):
    user = user_with_role("plant manager", site_a)
    assert list(Site.objects.restrict(user, action)) == []
    assert scoping.has_model_permission(user, Site, action) is False


def test_missing_model_permission_denies_even_with_a_site_grant(site_a):
    assert list(Site.objects.restrict(user_with_role(None, site_a), "view")) == []
    viewer = user_with_role("viewer", site_a)
    assert Site.objects.restrict(viewer, "view").exists()
    assert list(Location.objects.restrict(viewer, "delete")) == []


def test_inactive_and_anonymous_users_see_nothing(site_a):
    from django.contrib.auth.models import AnonymousUser

    user = user_with_role("plant manager", site_a, is_active=False)
    assert list(Site.objects.restrict(user, "view")) == []
    assert list(Site.objects.restrict(AnonymousUser(), "view")) == []
    assert list(Site.objects.restrict(None, "view")) == []


# --- request size limits -------------------------------------------------------------------


def test_two_megabyte_upload_body_is_accepted_and_larger_bodies_refused(settings):
    body = b"x" * (2 * 1024 * 1024)
    request = RequestFactory().post("/api/v1/devices/uploads/", data=body, content_type="application/octet-stream")
    assert len(request.body) == len(body)
    too_big = b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    request = RequestFactory().post("/anything/", data=too_big, content_type="application/octet-stream")
    with pytest.raises(RequestDataTooBig):
        _ = request.body


def test_oversized_request_is_a_400_not_a_500(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(
        "/accounts/login/", data=b"a=" + b"x" * 4096, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
