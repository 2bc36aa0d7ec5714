"""Build the demo plant (idempotent: a second run changes nothing)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from tracker import services as tracker_services
from tracker.models import Location, Site
from tracker.roles import ROLE_NAMES

DEMO_PASSWORD = "shopfloor-demo"  # noqa: S105 - printed for the demo on purpose
SITE_CODE = "demo-plant"


class Command(BaseCommand):
    help = "Create the demo plant, its locations and a user of every role."

    @transaction.atomic
    def handle(self, *args, **options):
        site = Site.objects.filter(code=SITE_CODE).first()
        if site is None:
            site = tracker_services.site_create(code=SITE_CODE, name="Demo Plant", time_zone="Europe/Berlin")
            plant = tracker_services.location_create(site=site, code="DP", name="Plant floor", kind="area")
            for code, name, kind in (
                ("DP-RECV", "Receiving dock", "dock"),
                ("DP-STORES", "Stores", "zone"),
                ("DP-COLD", "Cold store", "zone"),
                ("DP-SHIP", "Shipping dock", "dock"),
            ):
                tracker_services.location_create(site=site, code=code, name=name, kind=kind, parent=plant)
            stores = Location.objects.get(code="DP-STORES")
            for n in range(1, 7):
                tracker_services.location_create(
                    site=site, code=f"DP-STORES-B{n:02d}", name=f"Bin {n}", kind="bin", parent=stores
                )
        User = get_user_model()
        logins = []
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        logins.append(("admin", "superuser"))
        for role in ROLE_NAMES:
            username = role.replace(" ", "_")
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=role))
                tracker_services.site_grant_access(site=site, user=user)
            logins.append((username, role))
        self.stdout.write(f"Demo site {site.code}. Logins (password {DEMO_PASSWORD!r}):")
        for username, role in logins:
            self.stdout.write(f"  {username:<20} {role}")
