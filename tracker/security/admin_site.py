"""The project's admin site: django-otp verification for staff when required.

With ``SHOPFLOOR_REQUIRE_2FA_FOR_STAFF`` on, this behaves like django-otp's
``OTPAdminSite``: a session that logged in with a password only is treated as
not staff until a TOTP code confirms it. The password step stays the normal
(axes-throttled) login; the admin then sends the user to the verification page,
or to enrollment when they have no device yet.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from tracker.security.twofactor import is_verified, staff_2fa_required


class ShopfloorAdminSite(admin.AdminSite):
    site_header = "Shopfloor administration"
    site_title = "Shopfloor admin"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return not staff_2fa_required() or is_verified(request.user)

    def login(self, request, extra_context=None):
        user = request.user
        if staff_2fa_required() and user.is_active and user.is_staff and not is_verified(user):
            next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
            return redirect(f"{reverse('security:otp_verify')}?{urlencode({'next': next_url})}")
        return super().login(request, extra_context)
