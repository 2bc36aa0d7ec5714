"""The discrete-event model of the demo plant (pure: no database, no network).

Time is simulated minutes from the start. Orders are released (a burst at the
start, then one every few minutes while fewer than ``max_wip`` are open), each
in a tote that travels station to station along its product's routing, queues
there (first in, first out), is processed for a triangular-distributed time,
sometimes scraps a unit, and at the test station sometimes fails inspection and
goes to the rework bench and back. Painting has one booth and the longest
cycle: the bottleneck, with the queue in front of it. The cold store's
temperature follows a baseline with noise and an excursion (a door left open).

The engine only decides *what happens when*; an ``Actuator`` makes it happen
(the runner: uploads through the device endpoint and the operators' actions
through the wip services; the tests: a recorder).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from demo.simulator import layout


@dataclass
class Config:
    speed: float = 60.0  # simulated seconds per real second; 0 = as fast as possible
    duration: float | None = None  # simulated minutes
    orders: int | None = None  # release at most this many
    seed: int = 7
    initial_orders: int = 4
    release_every: tuple[float, float] = (6.0, 10.0)  # minutes between releases
    max_wip: int = 14  # open orders: releases pause above this (CONWIP)
    transit: tuple[float, float] = (1.0, 2.5)
    kitting: tuple[float, float] = (1.0, 2.0)
    repair: tuple[float, float] = (6.0, 10.0)
    scrap_rate: float = 0.06
    inspection_fail_rate: float = 0.12
    sensor_every: float = 5.0  # minutes of simulated time between gateway posts (fast mode)
    sensor_every_real_s: float = 5.0  # real seconds between gateway posts (real-time mode)
    # Readers keep reading what stands in their zones: a batch of presence reads this often
    # (so an idle tote is not reported missing).
    sweep_every: float = 30.0  # simulated minutes (fast mode)
    sweep_every_real_s: float = 60.0  # real seconds (real-time mode)
    excursion_at: float = 6.0  # the cold store door is left open at this minute ...
    excursion_minutes: float = 100.0  # ... for this long
    excursion_every: float = 240.0  # ... and again every so often
    quantity: tuple[int, int] = (4, 12)
    # OEE: the welding cell jams now and then. Its controller reports the stop at once; the
    # operator picks the reason a little later (some jams are never coded: "reason needed").
    jam_station: str = "DP-WELD"
    jam_rate: float = 0.3  # share of its runs that jam
    jam_minutes: tuple[float, float] = (5.0, 14.0)
    reason_delay: float = 1.5  # minutes before the operator codes the stop
    uncoded_rate: float = 0.25


@dataclass
class Order:
    number: str
    product: layout.Product
    quantity: int
    tote: str = ""
    step: int = 0  # index into product.routing
    zone: str = "DP-STORES"
    released_at: float = 0.0
    finished_at: float | None = None
    attempts: int = 0  # start attempts while the arrival is still being processed

    @property
    def station(self) -> str | None:
        return self.product.routing[self.step] if self.step < len(self.product.routing) else None


class Actuator(Protocol):
    """What the engine asks the world to do. ``t`` is simulated minutes."""

    def release(self, order: Order, t: float) -> bool: ...
    def move(self, order: Order, from_zone: str | None, to_zone: str, t: float) -> None: ...
    # True: started; False: not yet (try again later); None: the order is gone (cancelled or
    # closed by someone else): drop it.
    def start(self, order: Order, station: str, t: float) -> bool | None: ...
    def complete(self, order: Order, station: str, scrap: int, t: float) -> None: ...
    def inspect(self, order: Order, station: str, passed: bool, t: float) -> None: ...
    def finish(self, order: Order, t: float) -> None: ...
    def sensor(self, temperature: float, humidity: float, t: float) -> None: ...
    def sweep(self, t: float) -> None: ...
    # OEE: what a machine's controller reports, and the operator's stop (with a reason) and resume.
    def machine(self, station: str, state: str, t: float) -> None: ...
    def stop(self, station: str, reason: str, t: float) -> None: ...
    def resume(self, station: str, t: float) -> None: ...


class Clock:
    """Simulated minutes against the wall clock. Real-time mode sleeps so that one
    real second is ``speed`` simulated seconds; fast mode (speed 0) never sleeps."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.started = time.monotonic()

    @property
    def realtime(self) -> bool:
        return self.speed > 0

    def elapsed(self) -> float:
        """Simulated minutes since the start, by the wall clock (real-time mode)."""
        return (time.monotonic() - self.started) * self.speed / 60

    def wait_until(self, t: float, stop=None) -> None:
        if not self.realtime:
            return
        while True:
            remaining = (t - self.elapsed()) * 60 / self.speed
            if remaining <= 0 or (stop is not None and stop.is_set()):
                return
            time.sleep(min(remaining, 0.25))


@dataclass(order=True)
class _Event:
    t: float
    seq: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


@dataclass
class Stats:
    released: int = 0
    finished: int = 0
    moves: int = 0
    starts: int = 0
    scrapped: int = 0
    failed_inspections: int = 0
    sensor_posts: int = 0
    start_retries: int = 0
    dropped: int = 0  # orders closed from outside (a planner cancelled them): given up
    max_queue: dict[str, int] = field(default_factory=dict)


def _retry_delay(attempts: int) -> float:
    """Simulated minutes before the next start attempt: 0.25 for the first eight, then doubling up to 10."""
    return 0.25 if attempts <= 8 else min(0.25 * 2 ** (attempts - 8), 10.0)


class Engine:
    def __init__(self, config: Config, actuator: Actuator, clock: Clock | None = None) -> None:
        self.config = config
        self.actuator = actuator
        self.clock = clock or Clock(config.speed)
        self.rng = random.Random(config.seed)  # noqa: S311 - a simulation, not a secret
        self.now = 0.0
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self.queues: dict[str, deque[Order]] = {s.code: deque() for s in layout.STATIONS}
        self.busy: dict[str, int] = {s.code: 0 for s in layout.STATIONS}
        self.capacity = {s.code: s.capacity for s in layout.STATIONS}
        self.minutes = {s.code: s.minutes for s in layout.STATIONS}
        self.open: dict[str, Order] = {}
        self.done: list[Order] = []
        self.stats = Stats()
        self._numbers = itertools.count(1)
        self._dispatch_pending: set[str] = set()
        # Jams draw from their own generator: the orders' random sequence stays what it was.
        self.jam_rng = random.Random(config.seed + 1001)  # noqa: S311 - a simulation, not a secret
        self.stopped: set[str] = set()
        self.jams = 0

    # ----------------------------------------------------------------- scheduling

    def at(self, t: float, kind: str, **data) -> None:
        heapq.heappush(self._events, _Event(t, next(self._seq), kind, data))

    def _between(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)

    def processing_minutes(self, station: str) -> float:
        low, mode, high = self.minutes[station]
        return self.rng.triangular(low, high, mode)

    def temperature(self, t: float) -> float:
        """Cold store temperature at minute ``t``: 3.8 °C, a slow wave, noise, and the excursion."""
        c = self.config
        value = 3.8 + 0.3 * math.sin(t / 37) + self.rng.gauss(0, 0.08)
        since = (t - c.excursion_at) % c.excursion_every if t >= c.excursion_at else -1
        if 0 <= since < c.excursion_minutes:
            rise = min(since / 6, 1.0)  # warms over six minutes with the door open
            fall = max(0.0, (since - (c.excursion_minutes - 8)) / 8)  # closes: back down over eight
            value += (6.9 * rise) * (1 - min(fall, 1.0))
        return round(value, 2)

    # --------------------------------------------------------------------- running

    def run(self, stop=None) -> Stats:
        c = self.config
        for i in range(c.initial_orders):
            self.at(i * 0.5, "release")
        self.at(c.initial_orders * 0.5 + self._between(c.release_every), "release", repeat=True)
        self.at(0.0, "sensor")
        self.at(self._sweep_step(), "sweep")
        while self._events:
            if stop is not None and stop.is_set():
                break
            event = heapq.heappop(self._events)
            if c.duration is not None and event.t > c.duration:
                break
            self.clock.wait_until(event.t, stop)
            self.now = event.t
            getattr(self, f"_on_{event.kind}")(**event.data)
            if self._finished():
                break
        return self.stats

    def _finished(self) -> bool:
        c = self.config
        return c.orders is not None and self.stats.released >= c.orders and not self.open

    # ------------------------------------------------------------------- handlers

    def _on_release(self, repeat: bool = False) -> None:
        c = self.config
        if repeat:
            self.at(self.now + self._between(c.release_every), "release", repeat=True)
        if c.orders is not None and self.stats.released >= c.orders:
            return
        if len(self.open) >= c.max_wip:
            return
        product = self.rng.choices(layout.PRODUCTS, weights=[p.mix for p in layout.PRODUCTS])[0]
        order = Order(
            number=f"{next(self._numbers)}",
            product=product,
            quantity=self.rng.randint(*c.quantity),
            released_at=self.now,
        )
        if not self.actuator.release(order, self.now):
            return  # no free tote or no stock: the planner tries again at the next release
        self.open[order.number] = order
        self.stats.released += 1
        # Kitting in stores, then the tote leaves for the first station.
        self.actuator.move(order, None, "DP-STORES", self.now)
        order.zone = "DP-STORES"
        self.at(self.now + self._between(c.kitting), "arrive", number=order.number)

    def _on_arrive(self, number: str, zone: str | None = None) -> None:
        order = self.open[number]
        target = zone or order.station
        self.actuator.move(order, order.zone, target, self.now)
        self.stats.moves += 1
        order.zone = target
        if zone is not None:  # the rework bench: repaired, then back to the station
            self.at(self.now + self._between(self.config.repair), "arrive", number=number)
            return
        self.queues[target].append(order)
        self.stats.max_queue[target] = max(self.stats.max_queue.get(target, 0), len(self.queues[target]))
        self._dispatch_soon(target)

    def _dispatch_soon(self, station: str, delay: float = 0.02) -> None:
        if station not in self._dispatch_pending:
            self._dispatch_pending.add(station)
            self.at(self.now + delay, "dispatch", station=station)

    def _on_dispatch(self, station: str) -> None:
        self._dispatch_pending.discard(station)
        queue = self.queues[station]
        while queue and self.busy[station] < self.capacity[station]:
            order = queue[0]
            started = self.actuator.start(order, station, self.now)
            if started is None:
                # Cancelled (or closed) from outside: nothing left to do for it here or anywhere.
                queue.popleft()
                self.open.pop(order.number, None)
                self.stats.dropped += 1
                continue
            if not started:
                # Its arrival is still being processed (an asynchronous worker), or it is on hold:
                # try again shortly, then less and less often (never several times a second for long).
                order.attempts += 1
                self.stats.start_retries += 1
                self._dispatch_soon(station, delay=_retry_delay(order.attempts))
                return
            order.attempts = 0
            queue.popleft()
            self.busy[station] += 1
            self.stats.starts += 1
            minutes = self.processing_minutes(station)
            if station == self.config.jam_station:
                minutes += self._maybe_jam(station, minutes)
            self.at(self.now + minutes, "done", number=order.number, station=station)

    def _maybe_jam(self, station: str, minutes: float) -> float:
        """The machine reports running; sometimes it jams partway: the minutes the jam adds."""
        c = self.config
        self.actuator.machine(station, "running", self.now)
        if station in self.stopped or self.jam_rng.random() >= c.jam_rate:
            return 0.0
        length = self.jam_rng.uniform(*c.jam_minutes)
        coded = self.jam_rng.random() >= c.uncoded_rate
        self.stopped.add(station)
        self.at(self.now + self.jam_rng.uniform(0.2, 0.8) * minutes, "jam", station=station, length=length, coded=coded)
        return length

    def _on_jam(self, station: str, length: float, coded: bool) -> None:
        self.jams += 1
        self.actuator.machine(station, "stopped", self.now)
        if coded:
            self.at(self.now + min(self.config.reason_delay, length / 2), "stop", station=station, reason="jam")
        self.at(self.now + length, "unjam", station=station, coded=coded)

    def _on_stop(self, station: str, reason: str) -> None:
        self.actuator.stop(station, reason, self.now)

    def _on_unjam(self, station: str, coded: bool) -> None:
        self.actuator.machine(station, "running", self.now)
        if coded:
            self.actuator.resume(station, self.now)
        self.stopped.discard(station)

    def _on_done(self, number: str, station: str) -> None:
        c = self.config
        order = self.open[number]
        scrap = 1 if order.quantity > 1 and self.rng.random() < c.scrap_rate else 0
        self.actuator.complete(order, station, scrap, self.now)
        order.quantity -= scrap
        self.stats.scrapped += scrap
        self.busy[station] -= 1
        if station == c.jam_station and not self.busy[station] and station not in self.stopped:
            self.actuator.machine(station, "idle", self.now)
        self._dispatch_soon(station)
        if order.product.inspection_at == station:
            passed = self.rng.random() >= c.inspection_fail_rate
            self.actuator.inspect(order, station, passed, self.now)
            if not passed:
                self.stats.failed_inspections += 1
                self.at(self.now + self._between(c.transit), "arrive", number=number, zone="DP-REWORK")
                return
        order.step += 1
        if order.station is None:
            self.at(self.now + self._between(c.transit), "ship", number=number)
        else:
            self.at(self.now + self._between(c.transit), "arrive", number=number)

    def _on_ship(self, number: str) -> None:
        order = self.open.pop(number)
        self.actuator.move(order, order.zone, "DP-FG", self.now)
        order.zone = "DP-FG"
        self.actuator.finish(order, self.now)
        order.finished_at = self.now
        self.done.append(order)
        self.stats.finished += 1

    def _sweep_step(self) -> float:
        c = self.config
        return c.sweep_every if not self.clock.realtime else c.sweep_every_real_s * self.clock.speed / 60

    def _on_sweep(self) -> None:
        self.actuator.sweep(self.now)
        self.at(self.now + self._sweep_step(), "sweep")

    def _on_sensor(self) -> None:
        c = self.config
        self.actuator.sensor(self.temperature(self.now), round(58 + self.rng.gauss(0, 1.5), 1), self.now)
        self.stats.sensor_posts += 1
        step = c.sensor_every if not self.clock.realtime else c.sensor_every_real_s * self.clock.speed / 60
        self.at(self.now + step, "sensor")
