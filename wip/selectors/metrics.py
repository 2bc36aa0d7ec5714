"""WIP metrics per station and site: throughput, utilisation, queue times, the bottleneck."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.template.defaultfilters import pluralize
from django.utils import timezone

from tracker.formatting import format_hours, format_percent
from tracker.models import Site
from wip import dispatch
from wip.models import ACTIVE_RUN_STATUSES, OperationRun, RunStatus, WorkOrder, WorkOrderStatus, Workstation
from wip.selectors.planning import site_calendars

# --- metrics --------------------------------------------------------------------------

_DUR = DurationField()


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # a backend handing back microseconds


@dataclass
class StationMetrics:
    code: str
    name: str
    capacity: int
    wip_limit: int | None
    queue_length: int
    wip: int
    finished: int
    good: Decimal
    scrap: Decimal
    busy_hours: float
    available_hours: float
    avg_queue_minutes: float | None
    avg_cycle_minutes: float | None
    avg_wip: float
    first_pass_yield: float | None
    period_hours: float

    @property
    def utilisation(self) -> float | None:
        return None if self.available_hours <= 0 else self.busy_hours / self.available_hours

    @property
    def throughput_per_hour(self) -> float:
        return self.finished / self.period_hours if self.period_hours > 0 else 0.0

    @property
    def scrap_rate(self) -> float | None:
        total = self.good + self.scrap
        return None if total == 0 else float(self.scrap / total)

    @property
    def over_limit(self) -> bool:
        return self.wip_limit is not None and self.wip > self.wip_limit

    @property
    def avg_cycle_hours(self) -> float | None:
        return None if self.avg_cycle_minutes is None else self.avg_cycle_minutes / 60

    @property
    def littles_law(self) -> float:
        """Throughput (runs/hour) × cycle time (hours): should be close to ``avg_wip``."""
        return self.throughput_per_hour * (self.avg_cycle_minutes or 0.0) / 60


def _busy_in(lo: dt.datetime, hi: dt.datetime, now: dt.datetime) -> Sum:
    """Run time that falls inside ``[lo, hi)``: each run clipped to the interval."""
    lo_v, hi_v = Value(lo, output_field=DateTimeField()), Value(hi, output_field=DateTimeField())
    stop = Least(Coalesce(F("runs__finished_at"), Value(now, output_field=DateTimeField())), hi_v)
    overlaps = Q(runs__started_at__isnull=False, runs__started_at__lt=hi) & (
        Q(runs__finished_at__isnull=True, runs__status__in=(RunStatus.RUNNING, RunStatus.PAUSED))
        | Q(runs__finished_at__gt=lo)
    )
    return Sum(ExpressionWrapper(stop - Greatest(F("runs__started_at"), lo_v), output_field=_DUR), filter=overlaps)


def _station_aggregates(
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    intervals: list[tuple[dt.datetime, dt.datetime]] | None = None,
) -> QuerySet:
    """Every figure of every station of the site in one query (conditional aggregates
    over its runs: one join, so nothing is counted twice). ``intervals``: working
    intervals to measure busy time in (``busy_0`` ... ``busy_n``), so time worked
    outside the calendar does not count against the time available in it."""
    finished_in = Q(
        runs__finished_at__gte=start, runs__finished_at__lt=end, runs__status__in=(RunStatus.DONE, RunStatus.FAILED)
    )
    first_pass = finished_in & Q(runs__attempt=1)
    end_v, start_v = Value(end, output_field=DateTimeField()), Value(start, output_field=DateTimeField())
    stop = Least(Coalesce(F("runs__finished_at"), Value(now, output_field=DateTimeField())), end_v)
    busy_q = Q(runs__started_at__isnull=False, runs__started_at__lt=end) & (
        Q(runs__finished_at__isnull=True, runs__status__in=(RunStatus.RUNNING, RunStatus.PAUSED))
        | Q(runs__finished_at__gte=start)
    )
    present_q = Q(runs__queued_at__isnull=False, runs__queued_at__lt=end) & (
        Q(runs__finished_at__isnull=True, runs__status__in=ACTIVE_RUN_STATUSES) | Q(runs__finished_at__gte=start)
    )
    started_in = Q(runs__started_at__gte=start, runs__started_at__lt=end, runs__queued_at__isnull=False)
    per_interval = {f"busy_{i}": _busy_in(lo, hi, now) for i, (lo, hi) in enumerate(intervals or ())}
    return (
        Workstation.objects.filter(site=site)
        .annotate(**per_interval)
        .annotate(
            first_queued=Min("runs__queued_at"),
            queue_now=Count("runs", filter=Q(runs__status=RunStatus.QUEUED)),
            wip_now=Count("runs", filter=Q(runs__status__in=ACTIVE_RUN_STATUSES)),
            finished=Count("runs", filter=finished_in),
            good=Coalesce(Sum("runs__good_quantity", filter=finished_in), Value(Decimal(0))),
            scrap=Coalesce(Sum("runs__scrap_quantity", filter=finished_in), Value(Decimal(0))),
            fp_in=Sum("runs__quantity", filter=first_pass),
            fp_good=Sum("runs__good_quantity", filter=first_pass),
            busy=Sum(
                ExpressionWrapper(stop - Greatest(F("runs__started_at"), start_v), output_field=_DUR), filter=busy_q
            ),
            paused=Sum("runs__paused_seconds", filter=finished_in),
            present=Sum(
                ExpressionWrapper(stop - Greatest(F("runs__queued_at"), start_v), output_field=_DUR), filter=present_q
            ),
            queue_time=Avg(
                ExpressionWrapper(F("runs__started_at") - F("runs__queued_at"), output_field=_DUR), filter=started_in
            ),
            cycle_time=Avg(
                ExpressionWrapper(F("runs__finished_at") - F("runs__queued_at"), output_field=_DUR),
                filter=finished_in & Q(runs__queued_at__isnull=False),
            ),
        )
        .order_by("code")
    )


# A window of this many calendar intervals or fewer clips busy time to them in the query;
# beyond it (a long report period) busy time is capped at the time available instead.
_MAX_INTERVALS = 64
# The longest working window taken as one shift; a longer one (a plant on around the clock)
# is cut into shifts of ``_SHIFT`` from its start.
_LONGEST_SHIFT = dt.timedelta(hours=12)
_SHIFT = dt.timedelta(hours=8)
# Stations created this soon after their site were set up with it (a seed, an import that takes a
# while): they count from the site's start rather than from the seconds the setup took.
_SET_UP_WITH_SITE = dt.timedelta(minutes=15)


def site_since(*, site: Site) -> dt.datetime:
    """When the site began: its creation, or its first queued run if work was recorded
    (imported, simulated) with earlier times. One query."""
    first = OperationRun.objects.filter(site=site).aggregate(first=Min("queued_at"))["first"]
    return min(site.created_at, first) if first else site.created_at


def current_shift(*, site: Site, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The shift ``now`` falls in: the site calendar's working window around it (cut into
    8-hour shifts when a window is longer than 12 h), or the last one before it when the
    plant is not working. ``end`` is the shift's end (it may lie after ``now``). One query."""
    now = now or timezone.now()
    calendar, _ = site_calendars(site=site)
    return shift_at(calendar, now)


def shift_at(calendar: dispatch.WorkingCalendar, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``current_shift`` for a calendar (no query)."""
    windows: list[tuple[dt.datetime, dt.datetime]] = []
    local = now.astimezone(calendar.tz).date()
    for back in range(8, -2, -1):
        windows.extend(calendar.windows_on(local - dt.timedelta(days=back)))
    # Windows that touch (22:00-24:00 then 00:00-06:00) are one stretch of work.
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    past = [w for w in merged if w[0] <= now]
    if not past:
        return now - _SHIFT, now
    lo, hi = past[-1]
    if hi - lo <= _LONGEST_SHIFT:
        return lo, hi
    moment = min(now, hi - dt.timedelta(microseconds=1))
    shift_lo = lo + _SHIFT * int((moment - lo) / _SHIFT)
    return shift_lo, min(shift_lo + _SHIFT, hi)


def station_metrics(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    site_calendar: tuple[dispatch.WorkingCalendar, dict[int, dispatch.WorkingCalendar]] | None = None,
) -> list[StationMetrics]:
    """Per workstation over ``[start, end)``: queue and WIP now, utilisation
    (busy time inside the calendar over calendar time × capacity), average queue
    and cycle time, throughput, first-pass yield and scrap rate.

    The window starts no earlier than the site (``since``, else ``site_since``), for each
    station no earlier than the station (its ``created_at``, moved back as far as the site's
    recorded history predates the site, or its first queued run if earlier), and ends no later than ``now``: time before the plant or the station existed,
    or not yet come, is neither busy nor available. Three queries (two with ``since``)."""
    now = now or timezone.now()
    since = since if since is not None else site_since(site=site)
    backdated = max(site.created_at - since, dt.timedelta(0))
    start = max(start, since)
    end = min(end, max(now, start))
    base, overrides = site_calendar if site_calendar is not None else site_calendars(site=site)
    calendars = {ws_pk: cal for ws_pk, cal in overrides.items()}
    # The distinct working intervals of every calendar in play, each measured once.
    per_calendar: dict[int | None, list[tuple[dt.datetime, dt.datetime]]] = {
        None: list(base.intervals(start, end)),
        **{pk: list(cal.intervals(start, end)) for pk, cal in calendars.items()},
    }
    distinct = sorted({iv for ivs in per_calendar.values() for iv in ivs})
    clip = len(distinct) <= _MAX_INTERVALS
    index = {iv: i for i, iv in enumerate(distinct)}
    out = []
    for ws in _station_aggregates(site, start, end, now, distinct if clip else None):
        own = per_calendar[ws.pk if ws.pk in calendars else None]
        # A station added after the window began has no time available before it existed. When the
        # site's recorded work predates its creation (imported or simulated history), the station keeps
        # its distance from the site's creation; and it existed by its own first queued run.
        began = since if ws.created_at - site.created_at < _SET_UP_WITH_SITE else ws.created_at - backdated
        if ws.first_queued is not None:
            began = min(began, ws.first_queued)
        available = sum((hi - max(lo, began)).total_seconds() for lo, hi in own if hi > began) * ws.capacity / 3600
        station_hours = max((end - max(start, began)).total_seconds() / 3600, 0.0)
        if clip:
            worked = sum(_seconds(getattr(ws, f"busy_{index[iv]}")) for iv in own)
        else:
            worked = _seconds(ws.busy)
        busy = max(worked - float(ws.paused or 0), 0.0) / 3600
        if not clip:
            busy = min(busy, available)
        queue = _seconds(ws.queue_time) / 60 if ws.queue_time is not None else None
        cycle = _seconds(ws.cycle_time) / 60 if ws.cycle_time is not None else None
        fpy = float(ws.fp_good / ws.fp_in) if ws.fp_in else None
        out.append(
            StationMetrics(
                code=ws.code,
                name=ws.name,
                capacity=ws.capacity,
                wip_limit=ws.wip_limit,
                queue_length=ws.queue_now,
                wip=ws.wip_now,
                finished=ws.finished,
                good=ws.good,
                scrap=ws.scrap,
                busy_hours=round(busy, 4),
                available_hours=round(available, 4),
                avg_queue_minutes=queue,
                avg_cycle_minutes=cycle,
                avg_wip=(_seconds(ws.present) / 3600 / station_hours) if station_hours else 0.0,
                first_pass_yield=fpy,
                period_hours=station_hours,
            )
        )
    return out


# Below this much evidence (finished runs, working hours observed) utilisation alone says
# little: a station that happened to start first looks busiest. The queue and the wait
# in front of each station then weigh as much.
EARLY_RUNS = 10
EARLY_HOURS = 2.0
# A rate per hour measured over less than an hour is an extrapolation (one order in the shift's
# first two minutes reads as 30 orders/h): pages show the counts instead until the window is this long.
RATE_MIN_HOURS = 1.0


@dataclass
class Bottleneck:
    code: str
    utilisation: float | None
    avg_queue_minutes: float | None
    explanation: str
    queue_length: int = 0
    finished_runs: int = 0
    working_hours: float = 0.0
    early: bool = False


def _pct(value: float | None) -> str:
    return format_percent(value)


def find_bottleneck(stations: list[StationMetrics]) -> Bottleneck | None:
    """The station that limits the flow, with why and on how much data.

    With enough data (``EARLY_RUNS`` finished runs and ``EARLY_HOURS`` of working
    time) it is the highest utilisation (ties: the longer wait, the longer queue);
    before that, the most work waiting per machine (then the longer wait, then
    utilisation). If another station has the longest wait, that is said too."""
    candidates = [s for s in stations if s.busy_hours > 0 or s.queue_length > 0 or s.wip > 0]
    if not candidates:
        return None
    finished = sum(s.finished for s in stations)
    hours = max((s.available_hours / max(s.capacity, 1) for s in stations), default=0.0)
    early = finished < EARLY_RUNS or hours < EARLY_HOURS
    if early:
        top = max(
            candidates,
            key=lambda s: (s.queue_length / max(s.capacity, 1), s.avg_queue_minutes or 0.0, s.utilisation or 0.0),
        )
    else:
        top = max(candidates, key=lambda s: (s.utilisation or 0.0, s.avg_queue_minutes or 0.0, s.queue_length))
    queued = [s for s in candidates if s.avg_queue_minutes is not None]
    longest = max(queued, key=lambda s: s.avg_queue_minutes or 0.0) if queued else None
    if early:
        waiting = f"{top.queue_length} job{pluralize(top.queue_length)} {pluralize(top.queue_length, 'waits,wait')}"
        text = f"{top.code} is the likely bottleneck: {waiting} in front of it"
        if top.capacity > 1:
            text += f" ({top.queue_length / top.capacity:.1f} per machine)"
        text += ", the most of the site"
        if top.over_limit:
            text += f", {top.wip} in WIP against a limit of {top.wip_limit}"
        text += f"; it has been busy {_pct(top.utilisation)} of its available time"
    else:
        text = (
            f"{top.code} is the bottleneck: it is busy {_pct(top.utilisation)} of its available time, "
            "the highest of the site"
        )
    if top.avg_queue_minutes is not None:
        text += f", and work waits {top.avg_queue_minutes:.0f} min on average in front of it"
    if longest is not None and longest.code != top.code:
        text += f". The longest wait is in front of {longest.code} ({longest.avg_queue_minutes or 0:.0f} min)"
    elif longest is not None:
        text += " (the longest wait of any station)"
    text += f". Based on {finished} finished run{pluralize(finished)} over {format_hours(hours)} of working time"
    if early:
        text += ": too little to go by utilisation alone, so the queue and the wait count as much"
    text += "."
    return Bottleneck(
        code=top.code,
        utilisation=top.utilisation,
        avg_queue_minutes=top.avg_queue_minutes,
        explanation=text,
        queue_length=top.queue_length,
        finished_runs=finished,
        working_hours=round(hours, 2),
        early=early,
    )


@dataclass
class SiteMetrics:
    start: dt.datetime
    end: dt.datetime
    stations: list[StationMetrics]
    bottleneck: Bottleneck | None
    queue_length: int
    wip: int
    orders_completed: int
    avg_order_cycle_hours: float | None
    avg_wip_orders: float
    order_throughput_per_hour: float
    first_pass_yield: float | None
    scrap_rate: float | None

    @property
    def period_hours(self) -> float:
        return max((self.end - self.start).total_seconds() / 3600, 0.0)

    @property
    def rates_meaningful(self) -> bool:
        """Whether the window is long enough (``RATE_MIN_HOURS``) for a rate per hour to mean anything."""
        return self.period_hours >= RATE_MIN_HOURS

    @property
    def littles_law(self) -> float:
        """Order throughput × order cycle time: compare with ``avg_wip_orders``."""
        return self.order_throughput_per_hour * (self.avg_order_cycle_hours or 0.0)


def site_metrics(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    site_calendar: tuple[dispatch.WorkingCalendar, dict[int, dispatch.WorkingCalendar]] | None = None,
    since: dt.datetime | None = None,
) -> SiteMetrics:
    """The site over ``[start, end)``: the stations' figures, the bottleneck and
    the work-order level Little's law cross-check (average orders in progress
    against throughput × cycle time). The window is clipped to the site's life
    (``start``/``end`` of the result say what was measured). Five queries (one
    fewer for each of ``site_calendar`` and ``since`` passed in)."""
    now = now or timezone.now()
    since = since if since is not None else site_since(site=site)
    stations = station_metrics(site=site, start=start, end=end, now=now, since=since, site_calendar=site_calendar)
    start = max(start, since)
    end = min(end, max(now, start))
    period_hours = max((end - start).total_seconds() / 3600, 0.0)
    end_v, start_v = Value(end, output_field=DateTimeField()), Value(start, output_field=DateTimeField())
    completed_in = Q(completed_at__gte=start, completed_at__lt=end, status=WorkOrderStatus.COMPLETED)
    stop = Least(Coalesce(F("completed_at"), F("cancelled_at"), Value(now, output_field=DateTimeField())), end_v)
    orders = WorkOrder.objects.filter(site=site, released_at__isnull=False).aggregate(
        completed=Count("pk", filter=completed_in),
        cycle=Avg(ExpressionWrapper(F("completed_at") - F("released_at"), output_field=_DUR), filter=completed_in),
        present=Sum(
            ExpressionWrapper(stop - Greatest(F("released_at"), start_v), output_field=_DUR),
            filter=Q(released_at__lt=end)
            & (
                Q(completed_at__isnull=True, cancelled_at__isnull=True)
                | Q(completed_at__gte=start)
                | Q(cancelled_at__gte=start)
            ),
        ),
    )
    good = sum((s.good for s in stations), Decimal(0))
    scrap = sum((s.scrap for s in stations), Decimal(0))
    first_pass = OperationRun.objects.filter(
        site=site, attempt=1, finished_at__gte=start, finished_at__lt=end, status__in=(RunStatus.DONE, RunStatus.FAILED)
    ).aggregate(q=Sum("quantity"), g=Sum("good_quantity"))
    cycle = _seconds(orders["cycle"]) / 3600 if orders["cycle"] is not None else None
    return SiteMetrics(
        start=start,
        end=end,
        stations=stations,
        bottleneck=find_bottleneck(stations),
        queue_length=sum(s.queue_length for s in stations),
        wip=sum(s.wip for s in stations),
        orders_completed=orders["completed"],
        avg_order_cycle_hours=cycle,
        avg_wip_orders=(_seconds(orders["present"]) / 3600 / period_hours) if period_hours else 0.0,
        order_throughput_per_hour=orders["completed"] / period_hours if period_hours else 0.0,
        first_pass_yield=float(first_pass["g"] / first_pass["q"]) if first_pass["q"] else None,
        scrap_rate=float(scrap / (good + scrap)) if good + scrap else None,
    )


def shift_metrics(
    *,
    site: Site,
    now: dt.datetime | None = None,
    site_calendar: tuple[dispatch.WorkingCalendar, dict[int, dispatch.WorkingCalendar]] | None = None,
    since: dt.datetime | None = None,
) -> SiteMetrics:
    """``site_metrics`` over the default window every WIP page and the API use: the site's current
    shift so far (``current_shift``), clipped to the site's life. The calendar is read once. Five queries
    (three with the calendars and the site's start passed in, as a page that reads them for more does)."""
    now = now or timezone.now()
    site_calendar = site_calendar if site_calendar is not None else site_calendars(site=site)
    start, end = shift_at(site_calendar[0], now)
    return site_metrics(site=site, start=start, end=end, now=now, site_calendar=site_calendar, since=since)
