"""The CPU benchmark's data, through the ordinary services (the API benchmark's seeding reused).

``bench.api.seed._core`` makes the ``bench`` site (four zones of ten bins), a
partner with an API key and a supervisor with a key and a logged-in session;
``bench.api.seed_wip`` makes the stations, routings and released work orders.
On top of that, smaller than the API benchmark (query counts do not depend on
row counts, and the test seeds the same shape): ten items stocked in every bin
of zone 0 (100 levels, so a levels page has its 50 rows), one item in two bins
of zone 1 for the transfers, one released order per step iteration (each
iteration starts and completes the first step of a fresh order) and one reader
with a device key for the uploads.
"""

from __future__ import annotations

import importlib
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

ITEMS = 10
OPENING_QTY = Decimal("100000")


def _inventory(core: dict[str, Any]) -> dict[str, Any]:
    from inventory import services as inv
    from tracker.models import Location, Site

    site = Site.objects.get(code=core["site"])
    items = [inv.item_create(sku=f"BN-{i:04d}", name=f"Bench item {i}", unit="pcs") for i in range(ITEMS)]
    zone0, zone1 = core["zones"][0], core["zones"][1]
    bins = {loc.code: loc for loc in Location.objects.filter(site=site, code__in=[*zone0["bins"], *zone1["bins"]])}
    for code in zone0["bins"]:
        with transaction.atomic():
            inv.receipt_create(
                site=site,
                reference=f"OPEN-{code}",
                supplier="bench",
                lines=[{"item": item, "quantity": OPENING_QTY, "location": bins[code]} for item in items],
            )
    # Both transfer bins hold the item from the start: every transfer updates two existing levels.
    pair = zone1["bins"][:2]
    with transaction.atomic():
        inv.receipt_create(
            site=site,
            reference="OPEN-TRANSFER",
            supplier="bench",
            lines=[{"item": items[0], "quantity": OPENING_QTY, "location": bins[code]} for code in pair],
        )
    return {
        "items": [it.sku for it in items],
        "transfer": {"item": items[0].sku, "a": pair[0], "b": pair[1]},
        "receipt_bins": zone0["bins"],
        "levels_within": zone0["code"],
    }


def _wip(core: dict[str, Any], *, board_orders: int, step_orders: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from bench.api.seed_wip import _orders, _plant
    from tracker import services as tracker_services
    from tracker.models import Site
    from tracker.selectors import SESSION_SITE_KEY
    from wip import services as wip
    from wip.models import OperationRun

    supervisor = get_user_model().objects.get(username="bench-supervisor")
    board_site = Site.objects.get(code=core["site"])
    stations, item, routing = _plant(board_site, "BW", capacity=2)
    orders = _orders(board_site, "BW", board_orders, item, routing, supervisor)
    for order in orders[:2]:  # some of the board's orders are running, as on a real floor
        run = OperationRun.objects.filter(work_order=order, status="queued").order_by("sequence").first()
        if run is not None:
            wip.operation_start(run=run, operator=supervisor)

    step_site = tracker_services.site_create(code="bench-steps", name="Bench steps plant", time_zone="UTC")
    tracker_services.site_grant_access(site=step_site, user=supervisor)
    _, step_item, step_routing = _plant(step_site, "BS", capacity=16)
    step = _orders(step_site, "BS", step_orders, step_item, step_routing, supervisor)
    first_runs = [
        OperationRun.objects.filter(work_order=order).order_by("sequence", "pk").values_list("pk", flat=True)[0]
        for order in step
    ]

    # The supervisor's session works on the board's site; the station actions carry CSRF as the page sends it.
    session = importlib.import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=core["supervisor_cookie"][settings.SESSION_COOKIE_NAME]
    )
    session[SESSION_SITE_KEY] = board_site.code
    session.save()
    return {"first_runs": first_runs, "station": stations[0].code, "csrf": secrets.token_hex(16)}


def _device(core: dict[str, Any]) -> dict[str, Any]:
    from devices import services as device_services
    from devices.models import Device, DeviceKind, ReadPoint
    from tracker.models import Location, Site

    site = Site.objects.get(code=core["site"])
    # Devices and read points are admin-made master data (no service), as in the ingestion benchmark.
    device = Device.objects.create(
        site=site, device_id="BN-FX-01", name="Bench reader", kind=DeviceKind.FIXED_READER, upload_format="zebra_iotc"
    )
    ReadPoint.objects.create(
        device=device, port=1, location=Location.objects.get(site=site, code=core["zones"][2]["code"])
    )
    _, secret = device_services.device_key_create(device=device, name="bench reader")
    return {"device_id": device.device_id, "key": secret}


def seed(*, step_orders: int, board_orders: int = 60) -> dict[str, Any]:
    """Seed the current (empty) database; returns what the paths need (keys, codes, the session)."""
    from bench.api.seed import _core

    data = _core()
    data["inventory"] = _inventory(data)
    data["wip"] = _wip(data, board_orders=board_orders, step_orders=step_orders)
    data["device"] = _device(data)
    return data
