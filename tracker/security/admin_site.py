"""The project's admin site: django-otp verification for staff when required, and
site data for superusers only.

With ``SHOPFLOOR_REQUIRE_2FA_FOR_STAFF`` on, this behaves like django-otp's
``OTPAdminSite``: a session that logged in with a password only is treated as
not staff until a TOTP code confirms it. The password step stays the normal
(axes-throttled) login; the admin then sends the user to the verification page,
or to enrollment when they have no device yet.

The admin is not scoped by site: its changelists, forms and foreign-key
choices show every site's rows. So every model that holds site data (it has a
``site_path`` or a relation to ``Site`` or ``Location``) is registered
superuser-only, whatever model permissions a staff member's roles carry; staff
work with site data in the pages and the API, which keep to their sites. The
site applies this in ``register()``, so a model added later is covered without
anyone remembering to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db import models
from django.shortcuts import redirect
from django.urls import reverse

from tracker.security.twofactor import is_verified, staff_2fa_required

SITE_MODELS = ("tracker.Site", "tracker.Location")
#: Not site data, but secrets (second-factor seeds): superusers only as well.
SECRET_MODELS = ("otp_totp.TOTPDevice", "otp_static.StaticDevice", "otp_email.EmailDevice")


def superuser_only(model: type[models.Model]) -> bool:
    """Whether the admin shows ``model`` to superusers only (site data, or secrets)."""
    return holds_site_data(model) or model._meta.label in SECRET_MODELS


def holds_site_data(model: type[models.Model]) -> bool:
    """A site-scoped model (``site_path``), or one that points at a site or a location."""
    if getattr(model, "site_path", None):
        return True
    return any(
        field.is_relation and field.related_model is not None and field.related_model._meta.label in SITE_MODELS
        for field in model._meta.get_fields()
        if not field.auto_created or field.concrete
    )


def _superuser(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


if TYPE_CHECKING:  # the mixin always precedes a ModelAdmin, whose methods it narrows
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


class SuperuserOnlyAdmin(_AdminBase):
    """Mixed in before a ModelAdmin of site data: nothing of it for anyone but superusers."""

    def has_module_permission(self, request) -> bool:
        return _superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args: Any) -> bool:
        return _superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return _superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return _superuser(request) and super().has_delete_permission(request, obj)


class ShopfloorAdminSite(admin.AdminSite):
    site_header = "Shopfloor administration"
    site_title = "Shopfloor admin"

    def register(self, model_or_iterable, admin_class=None, **options):
        model_list = [model_or_iterable] if isinstance(model_or_iterable, models.base.ModelBase) else model_or_iterable
        for model in model_list:
            if not (isinstance(model, type) and issubclass(model, models.Model)):
                raise TypeError(f"admin.register() takes model classes, not {model!r}")
            chosen = admin_class or admin.ModelAdmin
            if superuser_only(model) and not issubclass(chosen, SuperuserOnlyAdmin):
                chosen = type(chosen.__name__, (SuperuserOnlyAdmin, chosen), {"__module__": chosen.__module__})
            super().register(model, chosen, **options)

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
