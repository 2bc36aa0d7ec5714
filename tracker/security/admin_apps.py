"""Installs ``ShopfloorAdminSite`` as ``admin.site`` (replaces ``django.contrib.admin`` in INSTALLED_APPS)."""

from django.contrib.admin.apps import AdminConfig


class ShopfloorAdminConfig(AdminConfig):
    default_site = "tracker.security.admin_site.ShopfloorAdminSite"
