"""The simulator: the pure model, the vendor-format writers, and a bounded run
through the real device endpoint (in process)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from demo.simulator import layout, writers
from demo.simulator.model import Config, Engine, Order
from demo.simulator.runner import InProcessTransport, simulate
from demo.simulator.seed import load_keys, seed
from devices.models import Excursion, ReaderUpload, UploadStatus
from devices.parsers import parse
from inventory.models import Lot
from tracker.models import Alert
from wip.models import Defect, OperationRun, WorkOrder


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The seed creates a user per role: hashing their passwords at full cost is most of its time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Recorder:
    """An actuator that only writes down what the model asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.temperatures: list[tuple[float, float]] = []
        self.totes = [layout.tote_epc(n) for n in range(1, layout.TOTES + 1)]

    def release(self, order: Order, t: float) -> bool:
        order.tote = self.totes.pop(0)
        self.calls.append(("release", order.number, t))
        return True

    def move(self, order, from_zone, to_zone, t):
        self.calls.append(("move", order.number, from_zone, to_zone, t))

    def start(self, order, station, t):
        self.calls.append(("start", order.number, station, t))
        return True

    def complete(self, order, station, scrap, t):
        self.calls.append(("complete", order.number, station, scrap, t))

    def inspect(self, order, station, passed, t):
        self.calls.append(("inspect", order.number, station, passed, t))

    def finish(self, order, t):
        self.totes.append(order.tote)
        self.calls.append(("finish", order.number, t))

    def sensor(self, temperature, humidity, t):
        self.temperatures.append((t, temperature))

    def sweep(self, t):
        self.calls.append(("sweep", t))

    def machine(self, station, state, t):
        self.calls.append(("machine", station, state, t))

    def stop(self, station, reason, t):
        self.calls.append(("stop", station, reason, t))

    def resume(self, station, t):
        self.calls.append(("resume", station, t))


def test_model_routes_every_order_and_painting_is_the_bottleneck():
    recorder = Recorder()
    engine = Engine(Config(speed=0, orders=24, seed=3), recorder)
    stats = engine.run()
    assert stats.released == stats.finished == 24
    # Every order visits its routing's stations in order, starting each only after it arrived there.
    visits = defaultdict(list)
    for call in recorder.calls:
        if call[0] == "start":
            visits[call[1]].append(call[2])
    for order in engine.done:
        # A failed inspection repeats the test station (rework): count it once.
        path = [s for i, s in enumerate(visits[order.number]) if i == 0 or s != visits[order.number][i - 1]]
        assert path == list(order.product.routing)
    assert max(stats.max_queue, key=stats.max_queue.get) == "DP-PAINT"
    # Station capacity is never exceeded.
    busy = defaultdict(int)
    capacity = {s.code: s.capacity for s in layout.STATIONS}
    for call in recorder.calls:
        if call[0] == "start":
            busy[call[2]] += 1
            assert busy[call[2]] <= capacity[call[2]]
        elif call[0] == "complete":
            busy[call[2]] -= 1


class Cancelling(Recorder):
    """Order 2 is cancelled by a planner once it is released; order 3 is on hold for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: dict[str, int] = defaultdict(int)

    def start(self, order, station, t):
        if order.number == "2":
            self.refusals[order.number] += 1
            return None
        if order.number == "3" and t < 120:
            self.refusals[order.number] += 1
            return False
        return super().start(order, station, t)


def test_model_drops_a_cancelled_order_and_backs_off_a_held_one():
    recorder = Cancelling()
    engine = Engine(Config(speed=0, orders=6, seed=3), recorder)
    stats = engine.run()
    assert stats.dropped == 1 and stats.finished == 5
    cancelled = next(n for n in recorder.refusals if n == "2")
    assert recorder.refusals[cancelled] == 1  # asked once, then given up: no retry loop
    held = next(n for n in recorder.refusals if n == "3")
    # On hold for two hours: the retries thin out (not four a minute for 120 minutes).
    assert recorder.refusals[held] < 30


def test_model_cold_store_has_an_excursion_and_recovers():
    recorder = Recorder()
    config = Config(speed=0, duration=200, seed=5)
    Engine(config, recorder).run()
    temps = recorder.temperatures
    assert max(t for _, t in temps if t < config.excursion_at) < 5
    assert max(t for m, t in temps if config.excursion_at < m < config.excursion_at + config.excursion_minutes) > 9
    assert temps[-1][1] < 5


def test_writers_produce_what_the_parsers_read():
    now = dt.datetime(2026, 11, 18, 9, 41, 7, 512000, tzinfo=dt.UTC)
    tote = "urn:epc:id:grai:9501101.00001.5001"
    reads = [writers.Read(tote, 2, now, -52, 7)]
    assert writers.epc_hex(tote) == "331643E6B400004000001389"  # as in devices/tests/uploads
    zebra = parse("zebra_iotc", writers.zebra_iotc(reads, first_event_num=1)).reads[0]
    assert (zebra.tag_id, zebra.antenna, zebra.rssi, zebra.count, zebra.last_seen) == (tote, 2, -52, 7, now)
    impinj = parse("impinj_iot", writers.impinj_iot(reads, hostname="impinj-14-46-36")).reads[0]
    assert (impinj.tag_id, impinj.read_point, impinj.rssi) == (tote, "impinj-14-46-36:2", -52)
    body = writers.ruuvi_gateway(
        [writers.RuuviReport("D1:22:7A:05:3C:11", now, -65, Decimal("4.35"), 61.2, 100868, 2977, 40212)],
        gw_mac="C8:25:2D:11:22:33",
        nonce=9,
        at=now,
    )
    result = parse("ruuvi_gateway", body)
    values = {s.metric: s.value for s in result.samples}
    assert values["temperature"] == Decimal("4.35")
    assert abs(values["humidity"] - Decimal("61.2")) < Decimal("0.01")
    assert result.upload_key == "C8:25:2D:11:22:33:9"
    assert not result.warnings


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bounded_run_through_the_device_endpoint(tmp_path):
    keys_file = tmp_path / "keys.json"
    seed(keys_file=keys_file)
    transport = InProcessTransport(load_keys(keys_file))
    engine, actuator = simulate(
        config=Config(speed=0, orders=3, seed=11, inspection_fail_rate=0.5), transport=transport
    )
    assert engine.stats.finished == 3
    assert set(actuator.counters.uploads) == {202}
    assert actuator.counters.fallback_arrivals == 0  # every arrival came from a reader upload
    assert not ReaderUpload.objects.exclude(status=UploadStatus.PROCESSED).exists()
    formats = set(ReaderUpload.objects.values_list("format", flat=True))
    assert formats == {"zebra_iotc", "impinj_iot", "ruuvi_gateway", "machine_state"}
    orders = WorkOrder.objects.filter(external_ref="simulator")
    assert orders.count() == 3 and all(wo.status == "completed" for wo in orders)
    # Arrivals at stations were made by the pipeline from tag reads (the runs were queued there).
    assert OperationRun.objects.filter(work_order__in=orders, status="done", workstation__code="DP-PAINT").count() == 3
    assert Alert.objects.filter(kind__startswith="threshold.", subject="zone:DP-COLD").exists()
    # The cold-store excursion held the lots in the store (the adhesive), and listed them.
    excursion = Excursion.objects.get(location__code="DP-COLD")
    held = set(excursion.entries.filter(kind="held").values_list("lot__code", flat=True))
    assert {"ADH-2611", "ADH-2609"} <= held  # (and whatever else the seeded history left there)
    held_lots = excursion.entries.filter(kind="held", lot__isnull=False).values("lot_id")
    assert set(Lot.objects.filter(pk__in=held_lots).values_list("status", flat=True)) == {"on_hold"}
    if engine.stats.failed_inspections:
        assert Defect.objects.filter(work_order__in=orders, disposition="rework").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_after_a_four_hour_shift_the_metrics_name_painting(tmp_path):
    """The acceptance of the metrics: a simulated four-hour shift, then the API's default
    window (the current shift, clipped to the plant's life) names painting, busy > 60 %."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    keys_file = tmp_path / "keys.json"
    report = seed(keys_file=keys_file)
    transport = InProcessTransport(load_keys(keys_file))
    simulate(config=Config(speed=0, duration=240, seed=7), transport=transport)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username="manager"))
    body = client.get(f"/api/v1/wip/metrics/?site={report.site.code}").json()
    assert body["bottleneck"]["workstation"] == "DP-PAINT", body["bottleneck"]
    assert body["bottleneck"]["utilisation"] > 0.6
    # The default window is the current shift: run early in one (the simulated four hours
    # straddle its start), it rests on little data and says so, and still names painting
    # from the queues. Over the simulated four hours themselves it has the data to go by.
    start = (timezone.now() - dt.timedelta(hours=4)).isoformat()
    shift = client.get("/api/v1/wip/metrics/", {"site": report.site.code, "from": start}).json()
    assert shift["bottleneck"]["workstation"] == "DP-PAINT", shift["bottleneck"]
    assert shift["bottleneck"]["utilisation"] > 0.6
    assert not shift["bottleneck"]["early"]
    # OEE after the shift: every station has its figures; welding jammed (coded by the
    # operator, or waiting for a reason); painting starved packing (idle, starved).
    oee = client.get(f"/api/v1/wip/oee/?site={report.site.code}&by=day").json()
    by_station: dict = {}
    for row in oee["results"]:
        by_station.setdefault(row["workstation"], []).append(row)
    assert set(by_station) == {s.code for s in layout.STATIONS}
    assert all(any(r["oee"] for r in rows) for rows in by_station.values()), oee["results"]
    assert any(p["reason"] in ("Mechanical > Jam", "Reason needed") for p in oee["pareto"]), oee["pareto"]
    assert sum(r["state_minutes"].get("idle_starved", 0) for r in by_station["DP-PACK"]) > 0
    # Performance is a share of the ideal: no station makes more than its rated speed allows
    # (output counted against the run time in which it was made), in any day, and none is
    # implausibly slow over the shift. (When the shift straddles the site's midnight, the new
    # day's short stretch may hold a long run still under way: its run time without its output.)
    for code, rows in by_station.items():
        for r in rows:
            if r["performance"] is not None:
                assert r["performance"] <= 1.0, (code, r)
            if r["oee"] is not None:
                assert r["oee"] <= 1.0, (code, r)
        ran = [(r["performance"], r["run_minutes"]) for r in rows if r["performance"] is not None]
        run_minutes = sum(m for _, m in ran)
        assert run_minutes > 0, (code, rows)
        assert 0.1 < sum(p * m for p, m in ran) / run_minutes, (code, rows)


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True)
def test_a_fast_forward_processes_each_upload_before_the_next_minute(tmp_path):
    """With a broker (Celery not in-process) and no worker running, the in-process transport
    still has each upload processed before it returns: the simulator decides from where the
    readers put the totes. Queued instead, the reads land after the run and the plant looks
    starved (painting half idle on the production shape)."""
    keys_file = tmp_path / "keys.json"
    seed(keys_file=keys_file)
    engine, actuator = simulate(
        config=Config(speed=0, orders=2, seed=11), transport=InProcessTransport(load_keys(keys_file))
    )
    assert engine.stats.finished == 2
    assert actuator.counters.fallback_arrivals == 0
    assert not ReaderUpload.objects.exclude(status=UploadStatus.PROCESSED).exists()


@pytest.mark.django_db
def test_ideal_cycle_times_follow_the_clock_the_demo_runs_by(tmp_path):
    """At speed 60 a simulated minute passes in a real second and every run is dated by
    the wall clock, so the ideal cycle is 60× shorter than in a fast-forward (dated in
    simulated time); seeding again at another speed sets it again."""
    from wip.models import Operation

    seed(keys_file=tmp_path / "keys.json", speed=60)
    paint = next(s for s in layout.STATIONS if s.code == "DP-PAINT")
    ops = Operation.objects.filter(group__workstations__code="DP-PAINT")
    expected = paint.minutes[0] * 60 / layout.IDEAL_UNITS_PER_ORDER
    assert ops.exists()
    assert {o.ideal_cycle_seconds for o in ops} == {Decimal(str(round(expected / 60, 3)))}
    report = seed(keys_file=tmp_path / "keys.json")
    assert {o.ideal_cycle_seconds for o in ops.all()} == {Decimal(str(round(expected, 3)))}
    assert any(line.startswith("ideal cycle DP-PAINT") for line in report.created)


def test_no_order_beats_the_ideal_cycle():
    """An order's time does not grow with its units: the ideal per unit is the fastest
    order time over the largest order, so an order of any size takes at least its
    units × that (performance at most 100 %)."""
    engine = Engine(Config(speed=0, orders=1, seed=3), Recorder())
    assert layout.IDEAL_UNITS_PER_ORDER == Config().quantity[1]
    for station in layout.STATIONS:
        ideal = station.minutes[0] / layout.IDEAL_UNITS_PER_ORDER
        for _ in range(50):
            assert engine.processing_minutes(station.code) >= ideal * Config().quantity[1] - 1e-9
