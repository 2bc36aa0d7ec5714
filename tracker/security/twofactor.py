"""Whether staff must present a TOTP code before reaching the admin."""

from __future__ import annotations

from django.conf import settings


def staff_2fa_required() -> bool:
    return bool(getattr(settings, "SHOPFLOOR_REQUIRE_2FA_FOR_STAFF", False))


def is_verified(user) -> bool:
    """True when the session was confirmed by an OTP device (django-otp's middleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False
