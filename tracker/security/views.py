"""Second factor pages: enroll a TOTP device, and confirm a session with a code.

Enrollment shows the device's otpauth:// URL as an inline SVG QR code (segno,
no external service) plus the base32 secret for manual entry. A user who
already holds a confirmed device must verify the session before enrolling
another: a stolen password alone cannot add an attacker's phone.
"""

from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from tracker.audit import audit_record
from tracker.security.twofactor import is_verified

ENROLL_DEVICE_NAME = "authenticator"


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index") if request.user.is_staff else reverse("tracker:home")


def _token(request) -> str:
    return "".join(request.POST.get("token", "").split())


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request):
    user = request.user
    has_confirmed = any(True for _ in devices_for_user(user, confirmed=True))
    if has_confirmed and not is_verified(user):
        return redirect(f"{reverse('security:otp_verify')}?next={reverse('security:otp_setup')}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=ENROLL_DEVICE_NAME, confirmed=False)
    error = None
    if request.method == "POST":
        if device.verify_token(_token(request)):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit_record(actor=user, action="auth.2fa.enrolled", obj=user)
            messages.success(request, "Authenticator app registered.")
            return redirect(_next_url(request))
        audit_record(actor=user, action="auth.2fa.failed", obj=user, changes={"step": "enroll"})
        error = "That code did not match. Check the time on your phone and try again."
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=5, border=2)
    return render(
        request,
        "registration/otp_setup.html",
        {
            "qr_svg": qr_svg,
            "secret": base64.b32encode(device.bin_key).decode(),
            "error": error,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "has_confirmed": has_confirmed,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    user = request.user
    devices = list(devices_for_user(user, confirmed=True))
    if not devices:
        return redirect(f"{reverse('security:otp_setup')}?next={_next_url(request)}")
    error = None
    if request.method == "POST":
        token = _token(request)
        # verify_token is throttled per device by django-otp (growing delay after failures).
        device = next((d for d in devices if d.verify_token(token)), None)
        if device is not None:
            otp_login(request, device)
            audit_record(actor=user, action="auth.2fa.verified", obj=user)
            return redirect(_next_url(request))
        audit_record(actor=user, action="auth.2fa.failed", obj=user, changes={"step": "verify"})
        error = "That code did not match."
    return render(
        request,
        "registration/otp_verify.html",
        {"error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
    )
