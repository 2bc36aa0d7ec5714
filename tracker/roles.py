"""Roles are Django groups carrying model permissions.

Which *sites* a user may see comes from guardian object permissions on
``Site``; which *actions* they may take there comes from these groups. Each
role lists permission patterns (``app_label.codename`` with shell wildcards)
so that models added later by an app are covered without a new list; the
groups are created by a migration and re-synced after every ``migrate``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.contrib.auth.models import Group, Permission

APPS = ("tracker", "inventory", "wip", "devices", "webhooks")

VIEW_ALL = [f"{app}.view_*" for app in APPS]

ROLES: dict[str, list[str]] = {
    "plant manager": [
        *VIEW_ALL,
        "tracker.change_alert",
        "tracker.change_site",
        "inventory.*",
        "wip.*",
        "devices.view_*",
        "devices.change_*",
        "webhooks.*",
    ],
    "planner": [
        *VIEW_ALL,
        "tracker.change_alert",
        "inventory.add_item",
        "inventory.change_item",
        "inventory.add_stockreservation",
        "inventory.change_stockreservation",
        "wip.add_*",
        "wip.change_*",
    ],
    "supervisor": [
        *VIEW_ALL,
        "tracker.change_alert",
        "inventory.add_stockmove",
        "wip.add_*",
        "wip.change_*",
    ],
    "operator": [
        "tracker.view_site",
        "tracker.view_location",
        "tracker.view_alert",
        "inventory.view_item",
        "inventory.view_lot",
        "inventory.view_serialunit",
        "wip.view_*",
        "wip.change_operationrun",
        "wip.add_stationstate",
        "wip.change_stationstate",
        "wip.add_defect",
        "wip.add_inspection",
        "devices.view_tagassignment",
    ],
    "warehouse clerk": [
        "tracker.view_site",
        "tracker.view_location",
        "tracker.view_alert",
        "tracker.change_alert",
        "inventory.*",
        "wip.view_workorder",
        "devices.view_*",
    ],
    "quality inspector": [
        *VIEW_ALL,
        "tracker.change_alert",
        "inventory.change_lot",
        "wip.add_inspection",
        "wip.change_inspection",
        "wip.add_defect",
        "wip.change_defect",
        "wip.add_hold",
        "wip.change_hold",
        "wip.change_workorder",
    ],
    "viewer": [*VIEW_ALL],
    "partner": [
        "tracker.view_site",
        "tracker.view_location",
        "inventory.view_*",
        "inventory.add_stockmove",
        "inventory.add_receipt",
        "inventory.add_shipment",
        "wip.view_workorder",
        "wip.add_workorder",
        "wip.view_routing",
        # Their own endpoints only (no webhooks.manage_all_webhookendpoint).
        "webhooks.view_*",
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        "webhooks.delete_webhookendpoint",
        "webhooks.change_webhookdelivery",
    ],
}

ROLE_NAMES = tuple(ROLES)


def role_permissions(patterns: list[str], permissions: list[Permission]) -> list[Permission]:
    chosen = []
    for perm in permissions:
        label = f"{perm.content_type.app_label}.{perm.codename}"
        if perm.content_type.app_label in APPS and any(fnmatchcase(label, p) for p in patterns):
            chosen.append(perm)
    return chosen


def sync_roles(group_model=Group, permission_model=Permission) -> None:
    """Create every role group and set its permissions to exactly what ROLES says."""
    permissions = list(permission_model.objects.select_related("content_type").filter(content_type__app_label__in=APPS))
    for name, patterns in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(role_permissions(patterns, permissions))
