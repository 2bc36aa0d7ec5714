"""OEE arithmetic on plain data: shifts from a working calendar, and per station
and shift availability × performance × quality with the six big losses.

Definitions (each checked against a hand computation in wip/tests/test_oee.py):

* **Shifts** come from the working-hours calendar: windows less than
  ``MAX_BREAK`` apart are one shift (the gaps are its breaks), so a window to
  midnight and one from midnight are one night shift, dated by its start. A
  stretch longer than ``LONGEST_SHIFT`` (a plant on around the clock) is cut
  into shifts of ``SHIFT`` from its start.
* **Planned production time**: the shift's working windows (breaks excluded),
  up to now, less planned stops.
* **Run time**: time the merged timeline (``wip.timeline``) says running,
  inside the windows.
* **Availability** = run time / planned production time.
* **Performance** = ideal time of what was made / run time, where a run's ideal
  time (the operation's ideal cycle time × its quantity, over the station's
  capacity: a station that runs two jobs at once makes two units per ideal
  cycle) is shared among the
  shifts by the part of its *worked* time (its span inside working windows)
  that lies in each. A run that straddles a shift change, a break, or the
  plant's start counts only the output of the run time counted here, so
  performance cannot exceed 100 % by counting output made before the window
  (or in another shift) against this window's run time.
* **Quality** = good / total in whole units, counted in the shift in which the
  run finished; good = total less the units the quality records (defects) say
  were scrapped, sent to rework or still wait for a decision.
* **OEE** = A × P × Q.
* **Six big losses**, in minutes: equipment failure (unplanned stops and
  offline), setup and adjustments (changeovers), idling and minor stops (idle,
  starved or blocked), reduced speed (run time less the ideal time of what was
  made), process defects (ideal time of the rejects) and reduced yield (ideal
  time of the rejects of the shift's first run: the start-up). Availability
  losses + run time = planned production time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from wip import timeline
from wip.dispatch import WorkingCalendar

MAX_BREAK = dt.timedelta(hours=1)
LONGEST_SHIFT = dt.timedelta(hours=12)
SHIFT = dt.timedelta(hours=8)

STOP_LOSSES: dict[str, str] = {
    "unplanned_stop": "equipment_failure",
    "offline": "equipment_failure",
    "changeover": "setup_adjustments",
    timeline.IDLE_STARVED: "idling_minor_stops",
    timeline.IDLE_BLOCKED: "idling_minor_stops",
}
LOSS_NAMES: dict[str, str] = {
    "equipment_failure": "Equipment failure",
    "setup_adjustments": "Setup and adjustments",
    "idling_minor_stops": "Idling and minor stops",
    "reduced_speed": "Reduced speed",
    "process_defects": "Process defects",
    "reduced_yield": "Reduced yield (start-up)",
}


@dataclass(frozen=True, slots=True)
class Shift:
    start: dt.datetime
    end: dt.datetime
    windows: tuple[tuple[dt.datetime, dt.datetime], ...]
    day: dt.date  # local date of its start
    label: str  # local "06:00–14:00 CET" (times shown to people carry their zone)

    @property
    def key(self) -> str:
        return self.start.isoformat().replace("+00:00", "Z")

    @property
    def working_seconds(self) -> float:
        return sum((hi - lo).total_seconds() for lo, hi in self.windows)


def _cut(
    stretch: list[tuple[dt.datetime, dt.datetime]],
) -> list[list[tuple[dt.datetime, dt.datetime]]]:
    """A stretch of windows longer than LONGEST_SHIFT cut into SHIFT-long pieces."""
    lo, hi = stretch[0][0], stretch[-1][1]
    if hi - lo <= LONGEST_SHIFT:
        return [stretch]
    out = []
    edge = lo
    while edge < hi:
        nxt = min(edge + SHIFT, hi)
        piece = [(max(a, edge), min(b, nxt)) for a, b in stretch if a < nxt and b > edge]
        if piece:
            out.append(piece)
        edge = nxt
    return out


def shifts(calendar: WorkingCalendar, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """The shifts starting in ``[start, end)``, whole (a shift may end after ``end``)."""
    first = start.astimezone(calendar.tz).date() - dt.timedelta(days=2)
    last = end.astimezone(calendar.tz).date() + dt.timedelta(days=2)
    windows: list[tuple[dt.datetime, dt.datetime]] = []
    day = first
    while day <= last:
        windows.extend(calendar.windows_on(day))
        day += dt.timedelta(days=1)
    stretches: list[list[tuple[dt.datetime, dt.datetime]]] = []
    for lo, hi in sorted(windows):
        if stretches and lo - stretches[-1][-1][1] < MAX_BREAK:
            prev = stretches[-1][-1]
            if lo <= prev[1]:  # touching (to and from midnight): one window
                stretches[-1][-1] = (prev[0], max(prev[1], hi))
            else:
                stretches[-1].append((lo, hi))
        else:
            stretches.append([(lo, hi)])
    out = []
    for stretch in stretches:
        for piece in _cut(stretch):
            lo, hi = piece[0][0], piece[-1][1]
            if not start <= lo < end:
                continue
            local_lo, local_hi = lo.astimezone(calendar.tz), hi.astimezone(calendar.tz)
            out.append(
                Shift(
                    start=lo,
                    end=hi,
                    windows=tuple(piece),
                    day=local_lo.date(),
                    label=f"{local_lo:%H:%M}–{local_hi:%H:%M} {local_lo:%Z}",
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Count:
    """A run finished at the station: units made, rejects, ideal seconds per unit,
    and its worked seconds (its span inside the station's working windows, from
    the calendar; None: its span inside the shift's windows, plus any of it
    outside the shift)."""

    started_at: dt.datetime | None
    finished_at: dt.datetime
    quantity: Decimal
    rejects: Decimal
    ideal_seconds: Decimal
    worked_seconds: float | None = None


@dataclass
class Figures:
    """Summable OEE inputs; the ratios are None where their denominator is zero."""

    planned_s: float = 0.0
    run_s: float = 0.0
    ideal_s: float = 0.0
    good_ideal_s: float = 0.0
    total: Decimal = Decimal(0)
    good: Decimal = Decimal(0)
    state_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    loss_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def __iadd__(self, other: Figures) -> Figures:
        self.planned_s += other.planned_s
        self.run_s += other.run_s
        self.ideal_s += other.ideal_s
        self.good_ideal_s += other.good_ideal_s
        self.total += other.total
        self.good += other.good
        for k, v in other.state_s.items():
            self.state_s[k] += v
        for k, v in other.loss_s.items():
            self.loss_s[k] += v
        return self

    @property
    def availability(self) -> float | None:
        return self.run_s / self.planned_s if self.planned_s > 0 else None

    @property
    def performance(self) -> float | None:
        return self.ideal_s / self.run_s if self.run_s > 0 else None

    @property
    def quality(self) -> float | None:
        return float(self.good / self.total) if self.total > 0 else None

    @property
    def oee(self) -> float | None:
        a, p, q = self.availability, self.performance, self.quality
        if a is None:
            return None
        if a == 0:
            return 0.0
        return None if p is None or q is None else a * p * q

    @property
    def planned_minutes(self) -> float:
        return self.planned_s / 60

    @property
    def run_minutes(self) -> float:
        return self.run_s / 60

    def losses_minutes(self) -> dict[str, float]:
        """The six big losses in minutes, in their usual order."""
        return {k: round(self.loss_s.get(k, 0.0) / 60, 2) for k in LOSS_NAMES}


def working_windows(
    shift: Shift, now: dt.datetime, since: dt.datetime | None = None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The shift's working windows between ``since`` and ``now``."""
    lo_bound = since or shift.start
    out = [(max(lo, lo_bound), min(hi, now)) for lo, hi in shift.windows]
    return [(lo, hi) for lo, hi in out if lo < hi]


def figures(
    segments: Sequence[timeline.Segment],
    shift: Shift,
    counts: Iterable[Count],
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> Figures:
    """One station's figures for one shift from its merged timeline and the runs
    that overlap it (see the module's definitions). Working time counts from ``since`` (the plant's
    start: time before it existed is not planned production time) to ``now``."""
    windows = working_windows(shift, now, since)
    inside = timeline.clip(segments, windows)
    out = Figures()
    working = sum((hi - lo).total_seconds() for lo, hi in windows)
    for seg in inside:
        out.state_s[seg.state] += seg.seconds
        loss = STOP_LOSSES.get(seg.state)
        if loss:
            out.loss_s[loss] += seg.seconds
    out.planned_s = working - out.state_s.get("planned_stop", 0.0)
    out.run_s = out.state_s.get("running", 0.0)
    startup = True
    for c in sorted(counts, key=lambda c: (c.started_at or c.finished_at, c.finished_at)):
        finished_here = shift.start < c.finished_at <= shift.end
        share = _share(c, shift, windows)
        if not finished_here and share == 0.0:
            continue
        ideal = float(c.ideal_seconds)
        rejects = min(c.rejects, c.quantity)
        if finished_here:
            out.total += c.quantity
            out.good += c.quantity - rejects
        out.ideal_s += ideal * float(c.quantity) * share
        out.good_ideal_s += ideal * float(c.quantity - rejects) * share
        # The shift's first run started in it is its start-up: its rejects are reduced yield.
        first = startup and c.started_at is not None and c.started_at >= shift.start
        if first:
            startup = False
        out.loss_s["reduced_yield" if first else "process_defects"] += ideal * float(rejects) * share
    out.loss_s["reduced_speed"] += max(out.run_s - out.ideal_s, 0.0)
    return out


def _overlap(lo: dt.datetime, hi: dt.datetime, spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> float:
    return sum(max((min(hi, b) - max(lo, a)).total_seconds(), 0.0) for a, b in spans)


def _share(c: Count, shift: Shift, windows: Sequence[tuple[dt.datetime, dt.datetime]]) -> float:
    """The part of the run's worked time inside ``windows`` (this shift's counted time).

    A run with no span (never started, or finished as it started) is made at its finish."""
    if c.started_at is None or c.finished_at <= c.started_at:
        return 1.0 if any(lo < c.finished_at <= hi for lo, hi in windows) else 0.0
    worked = c.worked_seconds
    if worked is None:
        outside = (c.finished_at - c.started_at).total_seconds() - _overlap(
            c.started_at, c.finished_at, [(shift.start, shift.end)]
        )
        worked = _overlap(c.started_at, c.finished_at, shift.windows) + outside
    if worked <= 0:
        return 0.0
    return min(_overlap(c.started_at, c.finished_at, windows) / worked, 1.0)


def worked_seconds(calendar: WorkingCalendar, start: dt.datetime, end: dt.datetime) -> float:
    """Seconds of ``[start, end)`` inside the calendar's working windows."""
    day = start.astimezone(calendar.tz).date() - dt.timedelta(days=1)
    last = end.astimezone(calendar.tz).date() + dt.timedelta(days=1)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    while day <= last:
        spans.extend(calendar.windows_on(day))
        day += dt.timedelta(days=1)
    return _overlap(start, end, timeline.union(spans))
