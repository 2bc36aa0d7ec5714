"""Prepare the browser tests' database (run in a subprocess against that database).

``python -m tests.browser._prepare <keys file>``: migrate, seed the demo plant,
add a second site with its own user, put an order before its inspection, run the
simulated plant for two hours (``BROWSER_SIMULATE_MINUTES``, 0 to skip), and put two
work orders where the tests need them. Prints a JSON summary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

SITE_GLN = "5790000000012"


def main(keys_file: str) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from demo.simulator import layout
    from demo.simulator.seed import seed
    from devices import services as device_services
    from inventory.models import Item
    from tracker import services as tracker_services
    from tracker.models import Location, Site
    from wip import services as wip
    from wip.models import OperationRun, Routing, WorkOrder, Workstation

    call_command("migrate", interactive=False, verbosity=0)
    from pathlib import Path

    report = seed(keys_file=Path(keys_file))
    site = report.site
    other = Site.objects.filter(code="other-plant").first() or tracker_services.site_create(
        code="other-plant", name="Other Plant"
    )
    User = get_user_model()
    if not User.objects.filter(username="outsider").exists():
        outsider = User.objects.create_user(username="outsider", password=layout.DEMO_PASSWORD)
        outsider.groups.add(Group.objects.get(name="supervisor"))
        tracker_services.site_grant_access(site=other, user=outsider)
    # A GLN, so location labels carry (414) the site's GLN + (254) the location code.
    Site.objects.filter(pk=site.pk, gln="").update(gln=SITE_GLN)
    stations = {ws.code: ws for ws in Workstation.objects.filter(site=site)}
    stores, fg = Location.objects.get(code="DP-STORES"), Location.objects.get(code="DP-FG")

    def order(number: str, sku: str) -> WorkOrder:
        wo = WorkOrder.objects.filter(number=number).first()
        if wo is None:
            wo = wip.work_order_create(
                site=site,
                number=number,
                item=Item.objects.get(sku=sku),
                quantity=Decimal(5),
                routing=Routing.objects.get(code=f"RT-{sku}"),
                issue_location=stores,
                output_location=fg,
            )
            wip.work_order_release(work_order=wo)
        return wo

    # Through every step up to its inspection (test), which waits for the inspector.
    inspected = order("WO-BROWSER-3", "DP-CART")

    def station_of(run: OperationRun) -> Workstation:
        op = run.operation
        return op.workstation or Workstation.objects.filter(group_id=op.group_id).order_by("code").first()

    while not inspected.runs.filter(status="done", inspection="pending").exists():
        run = inspected.runs.filter(status="queued").order_by("sequence").first()
        if run is None:
            run = inspected.runs.filter(status="waiting").order_by("sequence").first()
            wip.operation_arrive(workstation=station_of(run), work_order=inspected)
            continue
        wip.operation_start(run=run, workstation=run.workstation or station_of(run))
        wip.operation_complete(run=OperationRun.objects.get(pk=run.pk), good_quantity=run.quantity)
    minutes = float(os.environ.get("BROWSER_SIMULATE_MINUTES", "120"))
    if minutes > 0 and not WorkOrder.objects.filter(external_ref="simulator").exists():
        from demo.simulator.model import Config
        from demo.simulator.runner import InProcessTransport, simulate
        from demo.simulator.seed import load_keys

        simulate(
            config=Config(speed=0, duration=minutes, seed=7), transport=InProcessTransport(load_keys(Path(keys_file)))
        )
        # The cutter is left free for the operator tests (the simulator stops mid-shift).
        for run in OperationRun.objects.filter(workstation__code="DP-CUT", status="running"):
            wip.operation_complete(run=run, good_quantity=run.quantity)
    # On the board in the welding group's queue (cut is done), its tote not yet read at welding.
    moving = order("WO-BROWSER-1", "DP-CART")
    if moving.runs.filter(sequence=10, status="queued").exists():
        wip.operation_arrive(workstation=stations["DP-CUT"], work_order=moving)
        run = OperationRun.objects.get(work_order=moving, sequence=10)
        wip.operation_start(run=run, workstation=stations["DP-CUT"])
        wip.operation_complete(run=OperationRun.objects.get(pk=run.pk), good_quantity=Decimal(5))
    device_services.tag_assign(site=site, tag_id=layout.tote_epc(1), target_kind="work_order", work_order=moving)
    # The tote was last seen at cutting, where its order just finished: wherever the simulated
    # shift left it (at welding, some runs), the test's read at welding must be a movement.
    from django.utils import timezone as tz

    from demo.simulator import writers
    from demo.simulator.runner import InProcessTransport
    from demo.simulator.seed import load_keys

    at = tz.now() - dt.timedelta(minutes=1)  # out of the zone's 10 s window by the time the test reads it
    reads = [writers.Read(layout.tote_epc(1), 1, at + dt.timedelta(seconds=1.1 * k), -45, 3) for k in range(4)]
    InProcessTransport(load_keys(Path(keys_file))).post(
        device_id="DP-ZR-LINE1", body=writers.zebra_iotc(reads, first_event_num=900_001)
    )
    # Queued at cutting, for the operator.
    queued = order("WO-BROWSER-2", "DP-SHELF")
    wip.operation_arrive(workstation=stations["DP-CUT"], work_order=queued)
    return {
        "site": site.code,
        "other": other.code,
        "moving": moving.number,
        "queued": queued.number,
        "inspection": inspected.number,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
