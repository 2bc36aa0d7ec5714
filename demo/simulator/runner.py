"""Drive a running Shopfloor with the model: the actuator and the transports.

Tag movements and sensor data leave here only as reader uploads in the vendors'
formats, posted to ``/api/v1/devices/uploads/`` with each device's own key
(``HttpTransport`` to a server; ``InProcessTransport`` through Django's test
client, for tests and for a demo without a server). What operators and
planners do on their pages (release, start, complete, inspect, dispose) goes
through the ``wip`` services, as those pages do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.utils import timezone

from demo.simulator import layout, writers
from demo.simulator.model import Clock, Config, Engine, Order
from devices import services as device_services
from inventory import services as stock
from inventory.models import Item
from inventory.selectors import available_quantity
from tracker.errors import DomainError
from tracker.models import Location, Site
from wip import services as wip
from wip.models import (
    Defect,
    InspectionState,
    OperationRun,
    ReasonCode,
    Routing,
    RunStatus,
    WorkOrder,
    WorkOrderStatus,
    Workstation,
)

logger = logging.getLogger("demo.simulator")

UPLOAD_PATH = "/api/v1/devices/uploads/"
BURST_S = 3.3  # how long a reader sees a tote arrive: beyond the 2 s dwell of a station's zone


class Transport(Protocol):
    def post(self, *, device_id: str, body: bytes) -> int: ...


class HttpTransport:
    """Posts to a running server, as the devices would."""

    def __init__(self, base_url: str, keys: dict[str, str], timeout: float = 15.0) -> None:
        import httpx

        self.keys = keys
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def post(self, *, device_id: str, body: bytes) -> int:
        response = self.client.post(
            UPLOAD_PATH,
            content=body,
            headers={"Authorization": f"Bearer {self.keys[device_id]}", "Content-Type": "application/json"},
        )
        return response.status_code

    def close(self) -> None:
        self.client.close()


class InProcessTransport:
    """Posts through Django's test client: the same endpoint, no server needed.

    The upload is also processed before ``post`` returns, even where Celery has a
    broker (``REDIS_URL`` set): a fast-forward decides each simulated minute from
    where the readers put the totes, so the pipeline's arrivals and moves must be
    in before the next step. Queued for a worker instead, they would all land
    after the run, dated in the past, and the plant would look starved (painting
    half idle, the queues in front of it never formed)."""

    def __init__(self, keys: dict[str, str]) -> None:
        from django.test import Client

        self.keys = keys
        self.client = Client(HTTP_HOST="localhost")

    def post(self, *, device_id: str, body: bytes) -> int:
        from config.celery import app

        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            response = self.client.post(
                UPLOAD_PATH,
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {self.keys[device_id]}",
            )
        finally:
            app.conf.task_always_eager = eager
        return response.status_code

    def close(self) -> None:
        pass


@dataclass
class Counters:
    uploads: Counter = field(default_factory=Counter)  # status code -> n
    errors: Counter = field(default_factory=Counter)  # domain error code -> n
    fallback_arrivals: int = 0
    replenishments: int = 0


class PlantActuator:
    """Makes the model's decisions happen in Shopfloor."""

    def __init__(
        self, *, site: Site, transport: Transport, clock: Clock, horizon_minutes: float, seed: int = 7
    ) -> None:
        self.site = site
        self.transport = transport
        self.clock = clock
        self.rng = random.Random(seed + 1)  # noqa: S311 - a simulation, not a secret
        self.counters = Counters()
        # Fast mode dates everything in simulated time, ending before now, so no
        # reading is ever "in the future" for the pipeline; real time dates by the wall clock.
        self.anchor = timezone.now() - dt.timedelta(minutes=horizon_minutes)
        self.antennas = layout.antenna_for_zone()
        self.formats = {r.device_id: r for r in layout.READERS}
        self.event_num: Counter = Counter()
        # A gateway's nonce starts anywhere after a reboot; never where the last run's did
        # (the endpoint takes a repeated gw_mac:nonce for a retry and drops it).
        self.nonce = int(time.time() * 10) % 2**31
        self.sensor_sequence = self.rng.randrange(0, 60000)
        self.last_read: dict[str, dt.datetime] = {}
        # Where each tote and pallet stands, for the readers' presence reads (pallets start in stores).
        self.zone_of: dict[str, str] = {
            p.epc: "DP-STORES" for p in layout.PALLET_LOTS if p.component != "DP-ADHESIVE-2K"
        }
        self.free_totes = [layout.tote_epc(n) for n in range(1, layout.TOTES + 1)]
        self.tote_of: dict[str, str] = {}
        self.stations = {ws.code: ws for ws in Workstation.objects.filter(site=site)}
        self.routings = {r.item.sku: r for r in Routing.objects.filter(site=site).select_related("item")}
        self.items = {i.sku: i for i in Item.objects.filter(sku__startswith="DP-")}
        self.stores = Location.objects.get(code="DP-STORES")
        self.finished_goods = Location.objects.get(code="DP-FG")
        users = layout.ROLE_USERS
        from django.contrib.auth import get_user_model

        by_name = {u.username: u for u in get_user_model().objects.filter(username__in=users.values())}
        self.planner = by_name.get(users["planner"])
        self.operator = by_name.get(users["operator"])
        self.inspector = by_name.get(users["quality inspector"])
        self.supervisor = by_name.get(users["supervisor"])
        stamp = timezone.now().strftime("%y%m%d%H%M")
        self.prefix = f"WO-{stamp}"
        self.max_attempts = 80 if clock.realtime else 10

    # --------------------------------------------------------------- time

    def ts(self, t: float) -> dt.datetime:
        if self.clock.realtime:
            return timezone.now()
        return self.anchor + dt.timedelta(minutes=t)

    # --------------------------------------------------------------- start of a run

    def reset(self) -> int:
        """Cancel the simulator's orders left open by an earlier run and put every tote
        back in the pool (the start of a shift). Returns how many were cancelled."""
        cancelled = 0
        for wo in WorkOrder.objects.open().filter(site=self.site, number__startswith="WO-", external_ref="simulator"):
            try:
                wip.work_order_cancel(work_order=wo, reason="simulator restarted", actor=self.supervisor)
                cancelled += 1
            except DomainError as exc:
                self._error(exc)
        for n in range(1, layout.TOTES + 1):
            device_services.tag_assign(
                site=self.site,
                tag_id=layout.tote_epc(n),
                target_kind="container",
                code=f"TOTE-{n:02d}",
                note="back in the pool",
            )
        # Totes and pallets stay where the last run left them: the readers go on seeing them there.
        from devices.models import TagState

        known = {layout.tote_epc(n) for n in range(1, layout.TOTES + 1)} | set(self.zone_of)
        for tag_id, zone in TagState.objects.filter(
            site=self.site, tag__tag_id__in=known, location__isnull=False
        ).values_list("tag__tag_id", "location__code"):
            self.zone_of[tag_id] = zone
        return cancelled

    # --------------------------------------------------------------- actuator

    def release(self, order: Order, t: float) -> bool:
        if not self.free_totes:
            return False
        at = self.ts(t)
        item = self.items[order.product.sku]
        number = f"{self.prefix}-{order.number.zfill(3)}"
        try:
            wo = wip.work_order_create(
                site=self.site,
                number=number,
                item=item,
                quantity=Decimal(order.quantity),
                routing=self.routings[order.product.sku],
                due_at=at + dt.timedelta(hours=self.rng.uniform(3, 8)),
                priority=self.rng.choice((3, 5, 5, 5, 7)),
                external_ref="simulator",
                issue_location=self.stores,
                output_location=self.finished_goods,
                actor=self.planner,
            )
            self._replenish(wo)
            wip.work_order_release(work_order=wo, actor=self.planner, at=at)
        except DomainError as exc:
            self._error(exc)
            return False
        order.number = number
        order.tote = self.free_totes.pop(0)
        self.tote_of[number] = order.tote
        device_services.tag_assign(
            site=self.site,
            tag_id=order.tote,
            target_kind="work_order",
            work_order=wo,
            valid_from=at,
            note="simulator",
            actor=self.planner,
        )
        return True

    def _replenish(self, wo: WorkOrder) -> None:
        """A delivery for any component the order cannot be reserved from (purchasing works)."""
        for line in wo.bom.lines.select_related("component") if wo.bom_id else []:
            needed = line.quantity_per_unit * wo.quantity
            if available_quantity(item=line.component, site=self.site) < needed:
                spec = next(c for c in layout.COMPONENTS if c.sku == line.component.sku)
                stock.stock_receive(
                    item=line.component,
                    quantity=max(spec.reorder_quantity, needed),
                    location=self.stores,
                    lot_code=f"{spec.sku[3:7]}-{timezone.now():%y%m%d%H%M%S}" if spec.tracking == "lot" else None,
                    reference=f"PO-SIM-{self.counters.replenishments + 1:04d}",
                    supplier="Demo Supplier GmbH",
                )
                self.counters.replenishments += 1

    def move(self, order: Order, from_zone: str | None, to_zone: str, t: float) -> None:
        # A station's zone needs a tote seen for longer than its dwell time; elsewhere two reads do.
        burst = BURST_S if to_zone in self.stations else 1.1
        start = self.ts(t)
        last = self.last_read.get(order.tote)
        if last is not None and start < last + dt.timedelta(seconds=1.2):
            # Never older than the tote's last reading: the pipeline ignores the past.
            start = last + dt.timedelta(seconds=1.2)
        by_device: dict[str, list[writers.Read]] = {}
        leaving = self.antennas.get(from_zone) if from_zone else None
        if leaving is not None and from_zone != to_zone:
            # Fading out at the antenna it leaves ...
            for dt_s in (-1.0, -0.5):
                by_device.setdefault(leaving.device_id, []).append(
                    writers.Read(
                        order.tote,
                        leaving.port or 1,
                        start + dt.timedelta(seconds=dt_s),
                        -72 + self.rng.uniform(-2, 2),
                        3,
                    )
                )
        arriving = self.antennas[to_zone]
        # ... and strong at the one it arrives at (reads more than a second apart: the
        # pipeline aggregates per second). In real time the burst starts now and the
        # reader's last reads are a few seconds ahead (well inside the pipeline's
        # tolerance): the arrival is then never older than what the services did last.
        steps = 4 if burst > 2 else 2
        for k in range(steps):
            by_device.setdefault(arriving.device_id, []).append(
                writers.Read(
                    order.tote,
                    arriving.port or 1,
                    start + dt.timedelta(seconds=burst * k / (steps - 1)),
                    -44 + self.rng.uniform(-2, 2),
                    3,
                )
            )
        self.last_read[order.tote] = start + dt.timedelta(seconds=burst)
        self.zone_of[order.tote] = to_zone
        for device_id, reads in by_device.items():
            self._post(device_id, reads)

    def sweep(self, t: float) -> None:
        """Presence reads of every tote and pallet where it stands, one upload per reader."""
        at = self.ts(t)
        by_device: dict[str, list[writers.Read]] = {}
        for epc, zone in sorted(self.zone_of.items()):
            antenna = self.antennas.get(zone)
            if antenna is None or antenna.port is None:
                continue
            last = self.last_read.get(epc)
            when = max(at, last + dt.timedelta(seconds=0.1)) if last is not None else at
            self.last_read[epc] = when
            by_device.setdefault(antenna.device_id, []).append(
                writers.Read(epc, antenna.port, when, -47 + self.rng.uniform(-2, 2), 2)
            )
        for device_id, reads in by_device.items():
            self._post(device_id, reads)

    # --------------------------------------------------------------- machine states (OEE)

    def machine(self, station: str, state: str, t: float) -> None:
        """The station's controller posts a ``machine_state`` event through the upload endpoint."""
        at = self.ts(t).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        body = json.dumps({"type": "machine_state", "station": station, "state": state, "at": at})
        self._send(layout.MACHINE_GATEWAY, body.encode())

    def stop(self, station: str, reason: str, t: float) -> None:
        """The operator taps Stop on the station page with a reason (answering the machine's stop)."""
        code = ReasonCode.objects.filter(site=self.site, code=reason).first()
        if code is None:
            return
        try:
            wip.station_stop(workstation=self.stations[station], reason=code, actor=self.operator, at=self.ts(t))
        except DomainError as exc:
            self._error(exc)

    def resume(self, station: str, t: float) -> None:
        try:
            wip.station_resume(workstation=self.stations[station], actor=self.operator, at=self.ts(t))
        except DomainError as exc:
            self._error(exc)

    def _post(self, device_id: str, reads: list[writers.Read]) -> None:
        spec = self.formats[device_id]
        if spec.upload_format == "zebra_iotc":
            body = writers.zebra_iotc(reads, first_event_num=self.event_num[device_id] + 1)
            self.event_num[device_id] += len(reads)
        elif spec.upload_format == "impinj_iot":
            body = writers.impinj_iot(reads, hostname=spec.reader_name)
        else:
            raise ValueError(f"no writer for {spec.upload_format}")
        self._send(device_id, body)

    def _send(self, device_id: str, body: bytes) -> None:
        try:
            status = self.transport.post(device_id=device_id, body=body)
        except Exception as exc:  # a server restarting must not end the simulation
            logger.warning("upload from %s failed: %s", device_id, exc)
            status = 0
        self.counters.uploads[status] += 1
        if status not in (200, 202):
            logger.warning("upload from %s answered %s", device_id, status)

    def _run(self, order: Order, station: str, *statuses: str) -> OperationRun | None:
        return (
            OperationRun.objects.select_related("operation", "workstation")
            .filter(work_order__number=order.number, workstation__code=station, status__in=statuses)
            .order_by("pk")
            .first()
        )

    def _gone(self, order: Order, t: float) -> bool:
        """Whether someone closed the order (a planner cancelled it); its tote is emptied if so."""
        closed = WorkOrder.objects.filter(
            number=order.number, status__in=(WorkOrderStatus.CANCELLED, WorkOrderStatus.COMPLETED)
        ).exists()
        if closed and order.number in self.tote_of:
            self._empty_tote(order, self.ts(t))
        return closed

    def start(self, order: Order, station: str, t: float) -> bool | None:
        if self._gone(order, t):
            logger.info("%s was closed from outside: the simulator drops it", order.number)
            return None
        run = self._run(order, station, RunStatus.QUEUED)
        if run is None:
            if order.attempts < self.max_attempts:
                if not self.clock.realtime:
                    time.sleep(0.05)  # fast mode against a real worker: give it a moment
                return False
            # The reading never turned into an arrival (a lost upload): the operator scans it in.
            result = wip.operation_arrive(
                workstation=self.stations[station],
                work_order=WorkOrder.objects.get(number=order.number),
                occurred_at=self.ts(t),
                actor=self.operator,
            )
            self.counters.fallback_arrivals += 1
            run = result.run
            if run is None or run.status != RunStatus.QUEUED:
                logger.warning("%s cannot start at %s (%s)", order.number, station, result.reason)
                return False
        try:
            wip.operation_start(run=run, operator=self.operator, workstation=self.stations[station], at=self.ts(t))
        except DomainError as exc:
            self._error(exc)
            return False
        return True

    def complete(self, order: Order, station: str, scrap: int, t: float) -> None:
        run = self._run(order, station, RunStatus.RUNNING, RunStatus.PAUSED)
        if run is None:
            logger.warning("%s has nothing running at %s", order.number, station)
            return
        try:
            wip.operation_complete(
                run=run,
                good_quantity=run.quantity - scrap,
                scrap_quantity=Decimal(scrap),
                scrap_code={"DP-PAINT": "PAINT_RUN", "DP-WELD": "WELD_POROSITY"}.get(station, "DAMAGED"),
                actor=self.operator,
                at=self.ts(t),
            )
        except DomainError as exc:
            self._error(exc)

    def inspect(self, order: Order, station: str, passed: bool, t: float) -> None:
        run = (
            OperationRun.objects.filter(
                work_order__number=order.number,
                workstation__code=station,
                status=RunStatus.DONE,
                inspection=InspectionState.PENDING,
            )
            .order_by("-pk")
            .first()
        )
        if run is None:
            return
        at = self.ts(t)
        try:
            wip.inspection_record(
                run=run,
                results=[{"check": "Function test", "passed": passed}],
                inspector=self.inspector,
                at=at,
                notes="" if passed else "Drawer slide binds",
                defect_code="FUNCTION_TEST",
            )
            if not passed:
                for defect in Defect.objects.open().filter(run=run).order_by("pk"):
                    wip.defect_dispose(
                        defect=defect,
                        disposition="rework",
                        rework_to_sequence=run.sequence,
                        actor=self.inspector,
                        at=at + dt.timedelta(seconds=1),
                    )
        except DomainError as exc:
            self._error(exc)

    def finish(self, order: Order, t: float) -> None:
        at = self.ts(t)
        try:
            wo = WorkOrder.objects.get(number=order.number)
            wip.work_order_complete(work_order=wo, actor=self.supervisor, at=at)
        except DomainError as exc:
            self._error(exc)
        self._empty_tote(order, at)

    def _empty_tote(self, order: Order, at: dt.datetime) -> None:
        n = int(order.tote.rsplit(".", 1)[1]) - 5000
        device_services.tag_assign(
            site=self.site,
            tag_id=order.tote,
            target_kind="container",
            code=f"TOTE-{n:02d}",
            valid_from=at,
            note="emptied",
        )
        self.tote_of.pop(order.number, None)
        self.free_totes.append(order.tote)

    def sensor(self, temperature: float, humidity: float, t: float) -> None:
        at = self.ts(t)
        gateway = next(r for r in layout.READERS if r.upload_format == "ruuvi_gateway")
        reports = []
        for sensor in layout.SENSORS:
            self.sensor_sequence = (self.sensor_sequence + 1) % 65535
            reports.append(
                writers.RuuviReport(
                    mac=sensor.mac,
                    at=at,
                    rssi=-68 + self.rng.randint(-3, 3),
                    temperature=Decimal(str(temperature)),
                    humidity=humidity,
                    pressure_pa=101325 + self.rng.randint(-200, 200),
                    battery_mv=2950,
                    sequence=self.sensor_sequence,
                )
            )
        self.nonce += 1
        self._send(
            gateway.device_id, writers.ruuvi_gateway(reports, gw_mac=gateway.reader_name, nonce=self.nonce, at=at)
        )

    def _error(self, exc: DomainError) -> None:
        self.counters.errors[exc.code] += 1
        logger.info("simulator: %s (%s)", exc.detail, exc.code)


def horizon(config: Config) -> float:
    """How far back fast mode dates its start: enough for the whole run to end before now."""
    if config.duration is not None:
        return config.duration + 30
    return (config.orders or 10) * 45 + 240


def simulate(*, config: Config, transport: Transport, stop=None) -> tuple[Engine, PlantActuator]:
    """Run the model against the demo plant until its bound (or ``stop`` is set)."""
    site = Site.objects.get(code=layout.SITE_CODE)
    clock = Clock(config.speed)
    actuator = PlantActuator(
        site=site, transport=transport, clock=clock, horizon_minutes=horizon(config), seed=config.seed
    )
    actuator.reset()
    engine = Engine(config, actuator, clock)
    engine.run(stop=stop)
    return engine, actuator
