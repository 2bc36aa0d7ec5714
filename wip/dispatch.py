"""Sequencing, estimated completion and load: pure functions over plain data.

Nothing here touches the database; ``wip.selectors`` loads the rows, turns
them into the dataclasses below and calls these functions, so every rule can
be checked against a small example worked out by hand (wip/tests/test_dispatch.py).

Times are timezone-aware datetimes; standard times are minutes of *working*
time, turned into wall-clock time through a station's ``WorkingCalendar``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

# --- Working calendars -------------------------------------------------------

#: Monday to Friday, 06:00-22:00 (two shifts): used when a site defines no hours.
DEFAULT_WEEK: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {
    weekday: ((dt.time(6), dt.time(22)),) for weekday in range(5)
}
_MAX_DAYS = 3 * 366  # an estimate further out than this is not an estimate


class WorkingCalendar:
    """Weekly working windows in a time zone.

    ``weekly`` maps weekday (0 = Monday) to ``(start, end)`` local times; an
    ``end`` of 00:00 means midnight at the end of that day. Windows are taken
    per local date, so a daylight-saving change shortens or lengthens the day
    the way the clock on the wall does.
    """

    def __init__(self, weekly: Mapping[int, Iterable[tuple[dt.time, dt.time]]], tz: str | dt.tzinfo = "UTC"):
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {}
        for weekday, windows in weekly.items():
            cleaned = []
            for start, end in windows:
                if end != dt.time(0) and end <= start:
                    raise ValueError(f"Working window {start}-{end} ends before it starts.")
                cleaned.append((start, end))
            if cleaned:
                self.weekly[int(weekday)] = tuple(sorted(cleaned))
        if not self.weekly:
            raise ValueError("A working calendar needs at least one window.")

    @classmethod
    def default(cls, tz: str | dt.tzinfo = "UTC") -> WorkingCalendar:
        return cls(DEFAULT_WEEK, tz)

    def windows_on(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working windows of local date ``day`` as aware datetimes."""
        out = []
        for start, end in self.weekly.get(day.weekday(), ()):
            begin = dt.datetime.combine(day, start, tzinfo=self.tz)
            if end == dt.time(0):
                finish = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz)
            else:
                finish = dt.datetime.combine(day, end, tzinfo=self.tz)
            # In UTC: arithmetic on aware datetimes sharing a zone is wall-clock
            # arithmetic in Python, which is wrong across a daylight-saving change.
            out.append((begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)))
        return out

    def _days_from(self, moment: dt.datetime, step: int = 1) -> Iterator[dt.date]:
        day = moment.astimezone(self.tz).date()
        for offset in range(_MAX_DAYS):
            yield day + dt.timedelta(days=offset * step)

    def intervals(self, start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The working parts of ``[start, end)``."""
        if end <= start:
            return
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)
        last = end.astimezone(self.tz).date()
        while day <= last:
            for begin, finish in self.windows_on(day):
                lo, hi = max(begin, start), min(finish, end)
                if lo < hi:
                    yield lo, hi
            day += dt.timedelta(days=1)

    def working_minutes(self, start: dt.datetime, end: dt.datetime) -> float:
        return sum((hi - lo).total_seconds() for lo, hi in self.intervals(start, end)) / 60

    def minutes_on(self, day: dt.date) -> float:
        return sum((hi - lo).total_seconds() for lo, hi in self.windows_on(day)) / 60

    def add_working_minutes(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The moment ``minutes`` of working time after ``start``.

        Zero minutes returns ``start`` itself, even outside working hours.
        """
        if minutes <= 0:
            return start
        remaining = dt.timedelta(minutes=minutes)
        for day in self._days_from(start - dt.timedelta(days=1)):
            for begin, finish in self.windows_on(day):
                lo = max(begin, start)
                if lo >= finish:
                    continue
                if remaining <= finish - lo:
                    return lo + remaining
                remaining -= finish - lo
        raise ValueError("No working time within three years.")

    def next_working_instant(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` if it is working time, else the start of the next window."""
        for day in self._days_from(moment - dt.timedelta(days=1)):
            for begin, finish in self.windows_on(day):
                if finish > moment:
                    return max(begin, moment)
        raise ValueError("No working time within three years.")

    def subtract_working_minutes(self, end: dt.datetime, minutes: float) -> dt.datetime:
        """The moment ``minutes`` of working time before ``end``."""
        if minutes <= 0:
            return end
        remaining = dt.timedelta(minutes=minutes)
        for day in self._days_from(end + dt.timedelta(days=1), step=-1):
            for begin, finish in reversed(self.windows_on(day)):
                hi = min(finish, end)
                if hi <= begin:
                    continue
                if remaining <= hi - begin:
                    return hi - remaining
                remaining -= hi - begin
        raise ValueError("No working time within three years.")


# --- Dispatch rules ----------------------------------------------------------

EDD = "edd"
SPT = "spt"
CRITICAL_RATIO = "cr"
PRIORITY_FIFO = "priority_fifo"
RULES: dict[str, str] = {
    EDD: "Earliest due date",
    SPT: "Shortest processing time",
    CRITICAL_RATIO: "Critical ratio",
    PRIORITY_FIFO: "Priority, then first in first out",
}
DEFAULT_RULE = PRIORITY_FIFO


@dataclass(frozen=True)
class Job:
    """One entry of a station's queue.

    ``priority``: 1 is the most urgent. ``processing_minutes`` is this
    operation's standard time; ``remaining_minutes`` that of every operation
    still to do, this one included (for the critical ratio).
    """

    key: str
    queued_at: dt.datetime
    processing_minutes: float
    remaining_minutes: float
    due_at: dt.datetime | None = None
    priority: int = 5


def critical_ratio(job: Job, now: dt.datetime) -> float:
    """Time left until due over work left (both in hours); below 1 means behind.

    A job without a due date is never critical (infinity); one past due is
    negative, the more so the later it is.
    """
    if job.due_at is None:
        return math.inf
    hours_left = (job.due_at - now).total_seconds() / 3600
    work_hours = max(job.remaining_minutes, 1.0) / 60  # at least a minute: no division by zero
    return hours_left / work_hours


def rank(job: Job, rule: str, now: dt.datetime) -> tuple:
    """The sort key of ``job`` under ``rule``; ties fall back to FIFO, then key."""
    fifo = (job.queued_at.timestamp(), job.key)
    if rule == EDD:
        return (job.due_at is None, job.due_at.timestamp() if job.due_at else 0.0, *fifo)
    if rule == SPT:
        return (job.processing_minutes, *fifo)
    if rule == CRITICAL_RATIO:
        return (critical_ratio(job, now), *fifo)
    if rule == PRIORITY_FIFO:
        return (job.priority, *fifo)
    raise ValueError(f"Unknown dispatch rule {rule!r}.")


def dispatch_order(jobs: Iterable[Job], rule: str, now: dt.datetime) -> list[Job]:
    """The queue in the order the rule says to work it."""
    return sorted(jobs, key=lambda job: rank(job, rule, now))


# --- Finite-capacity schedule: ETA and late risk ------------------------------

ON_TRACK, AT_RISK, LATE, NO_DUE_DATE = "on_track", "at_risk", "late", "no_due_date"


@dataclass(frozen=True)
class Station:
    key: str
    capacity: int
    calendar: WorkingCalendar


@dataclass(frozen=True)
class Step:
    """A remaining operation: the stations that can do it (a group has several)
    and its standard minutes (for a step already running: what is left of it)."""

    stations: tuple[str, ...]
    minutes: float


@dataclass(frozen=True)
class Order:
    """A batch moving through its remaining steps, current step first.

    ``running``: the current step is running (or paused) at ``stations[0]``,
    so it holds a machine there before anything queued.
    """

    key: str
    steps: tuple[Step, ...]
    queued_at: dt.datetime
    due_at: dt.datetime | None = None
    priority: int = 5
    running: bool = False


@dataclass(frozen=True)
class ScheduledStep:
    order: str
    index: int
    station: str
    start: dt.datetime
    end: dt.datetime


@dataclass
class Estimate:
    key: str
    eta: dt.datetime
    due_at: dt.datetime | None
    risk: str
    steps: list[ScheduledStep] = field(default_factory=list)

    @property
    def slack(self) -> dt.timedelta | None:
        return None if self.due_at is None else self.due_at - self.eta


def late_risk(*, eta: dt.datetime, due_at: dt.datetime | None, now: dt.datetime, buffer: float = 0.2) -> str:
    """``late`` if the ETA is after the due date; ``at_risk`` if the margin left is
    under ``buffer`` times the time still needed (thin margins slip); else on track."""
    if due_at is None:
        return NO_DUE_DATE
    if eta > due_at:
        return LATE
    if (due_at - eta) < (eta - now) * buffer:
        return AT_RISK
    return ON_TRACK


def schedule(
    orders: Sequence[Order],
    stations: Mapping[str, Station],
    *,
    rule: str,
    now: dt.datetime,
    risk_buffer: float = 0.2,
) -> dict[str, Estimate]:
    """Estimate when each order finishes by simulating the stations forward.

    Non-preemptive list scheduling: steps become ready when their predecessor
    ends (current steps at ``now``); among steps ready at the same moment,
    running ones go first, then the site's dispatch rule decides. Each step
    takes the station (of its alternatives) and machine (of its capacity) that
    frees first, and its standard minutes are laid on that station's calendar.
    """
    free_at: dict[str, list[dt.datetime]] = {key: [now] * max(station.capacity, 1) for key, station in stations.items()}
    heap: list[tuple] = []
    by_key = {order.key: order for order in orders}

    def push(order: Order, index: int, ready: dt.datetime) -> None:
        steps = order.steps[index:]
        job = Job(
            key=order.key,
            queued_at=order.queued_at if index == 0 else ready,
            processing_minutes=steps[0].minutes,
            remaining_minutes=sum(step.minutes for step in steps),
            due_at=order.due_at,
            priority=order.priority,
        )
        first = 0 if (order.running and index == 0) else 1
        heapq.heappush(heap, (ready.timestamp(), first, rank(job, rule, now), order.key, index))

    for order in orders:
        if order.steps:
            push(order, 0, now)

    placed: dict[str, list[ScheduledStep]] = {order.key: [] for order in orders}
    while heap:
        ready_ts, _, _, key, index = heapq.heappop(heap)
        order = by_key[key]
        step = order.steps[index]
        ready = dt.datetime.fromtimestamp(ready_ts, tz=dt.UTC)
        best = None
        for station_key in step.stations:
            station = stations[station_key]
            machines = free_at[station_key]
            machine = min(range(len(machines)), key=machines.__getitem__)
            start = max(ready, machines[machine])
            start = station.calendar.next_working_instant(start)
            end = station.calendar.add_working_minutes(start, step.minutes)
            if best is None or end < best[2]:
                best = (station_key, machine, end, start)
        if best is None:
            raise ValueError(f"step {index + 1} of {key} has no station to run at")
        station_key, machine, end, start = best
        free_at[station_key][machine] = end
        placed[key].append(ScheduledStep(order=key, index=index, station=station_key, start=start, end=end))
        if index + 1 < len(order.steps):
            push(order, index + 1, end)

    estimates = {}
    for order in orders:
        steps = placed[order.key]
        eta = steps[-1].end if steps else now
        estimates[order.key] = Estimate(
            key=order.key,
            eta=eta,
            due_at=order.due_at,
            risk=late_risk(eta=eta, due_at=order.due_at, now=now, buffer=risk_buffer),
            steps=steps,
        )
    return estimates


# --- Load: required against available hours per station and day -------------

OVERLOADED, IDLE, LOADED = "overloaded", "idle", "loaded"


@dataclass(frozen=True)
class DayLoad:
    day: dt.date
    required_hours: float
    available_hours: float

    @property
    def ratio(self) -> float | None:
        if self.available_hours <= 0:
            return None if self.required_hours <= 0 else math.inf
        return self.required_hours / self.available_hours

    @property
    def state(self) -> str:
        if self.required_hours > self.available_hours + 1e-9:
            return OVERLOADED
        if self.required_hours <= 1e-9:
            return IDLE
        return LOADED


def load_profile(
    orders: Sequence[Order],
    stations: Mapping[str, Station],
    *,
    now: dt.datetime,
    days: int = 14,
) -> dict[str, list[DayLoad]]:
    """Per station, per local day from today: hours required to meet due dates
    against hours available (calendar × capacity).

    Unlike ``schedule`` this loads at infinite capacity, so overloads show:
    each order's remaining steps are laid back to back *backwards* from its due
    date (the latest they can run and still be on time); an order that cannot
    make it that way, or has no due date, is laid forwards from now. A step at
    a group is shared equally by the group's stations.
    """
    required: dict[str, dict[dt.date, float]] = {key: {} for key in stations}

    def add(station_key: str, start: dt.datetime, end: dt.datetime, share: float) -> None:
        calendar = stations[station_key].calendar
        for lo, hi in calendar.intervals(start, end):
            day = lo.astimezone(calendar.tz).date()
            bucket = required[station_key]
            bucket[day] = bucket.get(day, 0.0) + share * (hi - lo).total_seconds() / 3600

    for order in orders:
        # The calendar of each step's first station decides how its minutes spread.
        chain: list[tuple[Step, dt.datetime, dt.datetime]] = []
        due_at = order.due_at
        backwards_ok = due_at is not None
        if due_at is not None:
            cursor = due_at
            for step in reversed(order.steps):
                calendar = stations[step.stations[0]].calendar
                start = calendar.subtract_working_minutes(cursor, step.minutes)
                chain.append((step, start, cursor))
                cursor = start
            chain.reverse()
            backwards_ok = cursor >= now
        if not backwards_ok:
            chain, cursor = [], now
            for step in order.steps:
                calendar = stations[step.stations[0]].calendar
                end = calendar.add_working_minutes(cursor, step.minutes)
                chain.append((step, cursor, end))
                cursor = end
        for step, start, end in chain:
            share = 1 / len(step.stations)
            for station_key in step.stations:
                add(station_key, start, end, share)

    out: dict[str, list[DayLoad]] = {}
    for key, station in stations.items():
        today = now.astimezone(station.calendar.tz).date()
        rows = []
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            available = station.calendar.minutes_on(day) * max(station.capacity, 1) / 60
            rows.append(
                DayLoad(day=day, required_hours=round(required[key].get(day, 0.0), 4), available_hours=available)
            )
        out[key] = rows
    return out
