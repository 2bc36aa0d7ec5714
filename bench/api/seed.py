"""Seed the API benchmark's fresh database through the ordinary services.

Runs inside ``python -m bench api --seed FILE`` with ``DATABASE_URL`` set to
the benchmark database, and writes what the load scenarios need (keys,
codes, a session cookie) to FILE as JSON. Parts whose app has not landed yet
are skipped, and the scenarios that need them report "n/a".
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from tracker import services as tracker_services
from tracker.roles import sync_roles

SITE = "bench"
ZONES, BINS_PER_ZONE, ITEMS = 4, 10, 40
#: bins per transfer worker pair; each load worker moves its own item between its own two bins
TRANSFER_PAIRS = 16
OPENING_QTY = Decimal("100000")


def _user(username: str, role: str, site) -> Any:
    user = get_user_model().objects.create_user(username=username, password=None)
    user.groups.add(Group.objects.get(name=role))
    tracker_services.site_grant_access(site=site, user=user)
    return get_user_model().objects.get(pk=user.pk)


def _api_key(user, name: str) -> str:
    try:
        from tracker.models import ApiKeyScope

        scopes = list(ApiKeyScope.values)
    except ImportError:  # before key scopes existed
        scopes = None
    kwargs = {"scopes": scopes} if scopes is not None else {}
    _, secret = tracker_services.api_key_create(user=user, name=name, **kwargs)
    return secret


def _session_cookie(user) -> dict[str, str]:
    """A logged-in session for the page scenarios, as the login view would make it."""
    store = importlib.import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return {settings.SESSION_COOKIE_NAME: store.session_key}


@transaction.atomic
def _core() -> dict[str, Any]:
    sync_roles()  # a fresh database: make the role groups complete (see the report on tracker/apps.py)
    site = tracker_services.site_create(code=SITE, name="Bench plant", time_zone="UTC")
    area = tracker_services.location_create(site=site, code="BN", name="Bench floor", kind="area")
    zones = []
    for z in range(ZONES):
        zone = tracker_services.location_create(site=site, code=f"BN-Z{z}", name=f"Zone {z}", kind="zone", parent=area)
        bins = [
            tracker_services.location_create(
                site=site, code=f"BN-Z{z}-B{b:02d}", name=f"Bin {z}.{b}", kind="bin", parent=zone
            ).code
            for b in range(BINS_PER_ZONE)
        ]
        zones.append({"code": zone.code, "bins": bins})
    partner = _user("bench-partner", "partner", site)
    supervisor = _user("bench-supervisor", "supervisor", site)
    return {
        "site": site.code,
        "area": area.code,
        "zones": zones,
        "partner_key": _api_key(partner, "bench partner"),
        "supervisor_key": _api_key(supervisor, "bench supervisor"),
        "supervisor_cookie": _session_cookie(supervisor),
    }


def _inventory(core: dict[str, Any]) -> dict[str, Any]:
    from inventory import services as inv
    from tracker.models import Location, Site

    site = Site.objects.get(code=core["site"])
    items = [inv.item_create(sku=f"BN-{i:04d}", name=f"Bench item {i}", unit="pcs") for i in range(ITEMS)]
    bins = {loc.code: loc for loc in Location.objects.filter(site=site, kind="bin")}
    # Opening stock by purchase receipts, one per bin: every item in every bin, so a
    # zone (10 bins x 40 items) pages 50 levels of 400.
    for code, location in sorted(bins.items()):
        with transaction.atomic():
            inv.receipt_create(
                site=site,
                reference=f"OPEN-{code}",
                supplier="bench",
                lines=[{"item": item, "quantity": OPENING_QTY, "location": location} for item in items],
            )
    all_bins = sorted(bins)
    pairs = [
        {
            "item": items[w % len(items)].sku,
            "a": all_bins[(2 * w) % len(all_bins)],
            "b": all_bins[(2 * w + 1) % len(all_bins)],
        }
        for w in range(TRANSFER_PAIRS)
    ]
    return {
        "items": [it.sku for it in items],
        "transfer_pairs": pairs,
        "receipt_bins": all_bins,
        "levels_within": core["zones"][0]["code"],
    }


def _wip(core: dict[str, Any]) -> dict[str, Any] | None:
    """Work orders queued at workstations, for the step scenario and the board (when wip has landed)."""
    try:
        from wip import services  # noqa: F401 - present once wip has landed
    except ImportError:
        return None
    from bench.api import seed_wip

    return seed_wip.seed(core)


def seed() -> dict[str, Any]:
    data = _core()
    data["inventory"] = _inventory(data)
    data["wip"] = _wip(data)
    return data
