"""Work orders for the WIP scenarios, through wip's services.

Two sites so the scenarios do not disturb each other: ``bench`` gets a
plant-sized WIP (a few dozen released orders queued over four stations) for
the board and the dispatch lists; ``bench-steps`` gets enough released orders
for the step scenario to start and complete steps for a whole run without
running dry. Release creates every step's run up front (the first queued, the
rest waiting), so the run ids are known here and each load worker walks its
own orders step by step.
"""

from __future__ import annotations

import importlib
import os
import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from tracker import services as tracker_services
from tracker.models import Site

STATIONS = 4
STEPS = 5
BOARD_ORDERS = 60
STEP_ORDERS = int(os.environ.get("BENCH_WIP_ORDERS", "800"))


def _plant(site: Site, prefix: str, capacity: int):
    from inventory import services as inv
    from wip import services as wip
    from wip.models import Operation, Routing

    area = tracker_services.location_create(site=site, code=f"{prefix}-LINE", name="Line", kind="area")
    stations = []
    for n in range(STATIONS):
        location = tracker_services.location_create(
            site=site, code=f"{prefix}-WS{n}", name=f"Station {n}", kind="workstation", parent=area
        )
        stations.append(wip.workstation_create(location=location, capacity=capacity))
    item = inv.item_create(sku=f"{prefix}-FG", name="Bench assembly", unit="pcs", kind="finished_good")
    # Routings are master data (admin-made); no service for them, as in the factories.
    routing = Routing.objects.create(site=site, code=f"{prefix}-RT", name="Bench routing", item=item)
    for step in range(STEPS):
        Operation.objects.create(
            routing=routing,
            sequence=(step + 1) * 10,
            name=f"Step {step + 1}",
            workstation=stations[step % STATIONS],
            run_minutes_per_unit=Decimal("2"),
        )
    return stations, item, routing


def _orders(site: Site, prefix: str, n: int, item, routing, actor) -> list[Any]:
    from wip import services as wip

    orders = []
    for i in range(n):
        with transaction.atomic():
            order = wip.work_order_create(
                site=site,
                number=f"{prefix}-WO{i:05d}",
                item=item,
                quantity=Decimal("1"),
                routing=routing,
                priority=1 + i % 9,
                actor=actor,
            )
            orders.append(wip.work_order_release(work_order=order, actor=actor))
    return orders


def seed(core: dict[str, Any]) -> dict[str, Any]:
    from tracker.selectors import SESSION_SITE_KEY
    from wip import services as wip
    from wip.models import OperationRun

    supervisor = get_user_model().objects.get(username="bench-supervisor")
    board_site = Site.objects.get(code=core["site"])
    stations, item, routing = _plant(board_site, "BW", capacity=2)
    board_orders = _orders(board_site, "BW", BOARD_ORDERS, item, routing, supervisor)
    # Some of the board's orders are running, as on a real floor (the first station is full).
    for order in board_orders[:2]:
        run = OperationRun.objects.filter(work_order=order, status="queued").order_by("sequence").first()
        if run is not None:
            wip.operation_start(run=run, operator=supervisor)

    step_site = tracker_services.site_create(code="bench-steps", name="Bench steps plant", time_zone="UTC")
    tracker_services.site_grant_access(site=step_site, user=supervisor)
    # Eight load workers start steps at the same stations at once: room for all of them.
    _, step_item, step_routing = _plant(step_site, "BS", capacity=16)
    step_orders = _orders(step_site, "BS", STEP_ORDERS, step_item, step_routing, supervisor)
    runs = []
    for order in step_orders:
        for run in OperationRun.objects.filter(work_order=order).order_by("sequence", "pk"):
            runs.append(
                {
                    "start": f"/api/v1/wip/runs/{run.pk}/start/",
                    "complete": f"/api/v1/wip/runs/{run.pk}/complete/",
                    "complete_body": {"good_quantity": "1"},
                }
            )

    # The step actions are the operator station's: session + CSRF, as the page sends them.
    csrf = secrets.token_hex(16)  # a 32-character secret: the cookie and the header carry the same value
    from django.conf import settings

    cookie = dict(core["supervisor_cookie"])
    session = importlib.import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=cookie[settings.SESSION_COOKIE_NAME]
    )
    session[SESSION_SITE_KEY] = board_site.code
    session.save()
    return {
        "runs": runs,
        "per_worker_runs": STEPS,
        "board_path": "/wip/",
        "dispatch_paths": [f"/api/v1/wip/workstations/{st.code}/dispatch/" for st in stations],
        "csrf": {"cookie": {settings.CSRF_COOKIE_NAME: csrf}, "header": {"X-CSRFToken": csrf}},
    }
