"""OEE reads: each station's merged state timeline, OEE per station and shift,
stops and their Pareto, trends by day and week (arithmetic in ``wip.oee``).

A fixed number of queries whatever the number of stations, shifts and runs:
stations, calendars, state rows (with reasons), runs (with their operation)
and the quality records of those runs. A page that has already read the
stations, the calendars or the site's start passes them in and saves their
queries; the station panel and the plant dashboard's current-shift figures are
cached per site WIP version (``station_panel_data``, ``current_shift_oee``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from tracker.models import Site
from wip import dispatch, oee, plan_cache, timeline
from wip.models import (
    STOP_STATES,
    Defect,
    Disposition,
    OperationRun,
    ReasonCode,
    RunStatus,
    StationState,
    Workstation,
)
from wip.selectors.metrics import site_since
from wip.selectors.planning import site_calendars

#: Rejects in the quality records: scrapped, sent to rework, or still waiting for a decision.
REJECT_DISPOSITIONS = (Disposition.SCRAP, Disposition.REWORK, Disposition.OPEN)


@dataclass(frozen=True)
class Stop:
    """A stop on the merged timeline (inside working time)."""

    workstation: str
    start: dt.datetime
    end: dt.datetime
    state: str
    source: str
    reason: ReasonCode | None
    row_id: int | None
    shift_key: str

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def reason_needed(self) -> bool:
        return self.reason is None and self.state in STOP_STATES

    @property
    def category(self) -> str:
        if self.reason is None:
            return "Reason needed" if self.reason_needed else self.state.replace("_", " ").capitalize()
        return self.reason.parent.name if self.reason.parent_id and self.reason.parent else self.reason.name


@dataclass
class StationShift:
    workstation: Workstation
    shift: oee.Shift
    figures: oee.Figures
    stops: list[Stop]


@dataclass
class ParetoRow:
    reason: str
    category: str
    minutes: float
    count: int
    share: float = 0.0
    cumulative: float = 0.0


@dataclass
class OeeReport:
    site: Site
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    stations: list[Workstation]
    shifts: list[oee.Shift]
    rows: list[StationShift]
    timelines: dict[int, list[timeline.Segment]] = field(default_factory=dict)
    #: The state rows read, per station (None: none were read, there was no working time to measure).
    states: dict[int, list[StationState]] | None = None

    def cell(self, station: Workstation, shift: oee.Shift) -> StationShift | None:
        return next((r for r in self.rows if r.workstation.pk == station.pk and r.shift.key == shift.key), None)

    def total(self, rows: list[StationShift] | None = None) -> oee.Figures:
        out = oee.Figures()
        for r in self.rows if rows is None else rows:
            out += r.figures
        return out

    def by_station(self) -> list[tuple[Workstation, oee.Figures]]:
        return [(ws, self.total([r for r in self.rows if r.workstation.pk == ws.pk])) for ws in self.stations]

    def by_day(self) -> list[tuple[dt.date, oee.Figures]]:
        days: dict[dt.date, oee.Figures] = defaultdict(oee.Figures)
        for r in self.rows:
            days[r.shift.day] += r.figures
        return sorted(days.items())

    def by_week(self) -> list[tuple[str, oee.Figures]]:
        weeks: dict[str, oee.Figures] = defaultdict(oee.Figures)
        for r in self.rows:
            year, week, _ = r.shift.day.isocalendar()
            weeks[f"{year}-W{week:02d}"] += r.figures
        return sorted(weeks.items())

    def stops(self) -> list[Stop]:
        return sorted((s for r in self.rows for s in r.stops), key=lambda s: s.start)

    def pareto(self) -> list[ParetoRow]:
        """Stop minutes by reason, largest first, with the cumulative share."""
        rows: dict[str, ParetoRow] = {}
        for s in self.stops():
            name = s.reason.label if s.reason is not None else s.category
            row = rows.setdefault(name, ParetoRow(reason=name, category=s.category, minutes=0.0, count=0))
            row.minutes += s.minutes
            row.count += 1
        out = sorted(rows.values(), key=lambda r: (-r.minutes, r.reason))
        total = sum(r.minutes for r in out) or 1.0
        running = 0.0
        for r in out:
            running += r.minutes
            r.minutes = round(r.minutes, 2)
            r.share = r.minutes / total
            r.cumulative = running / total
        return out


def _intervals(rows: list[StationState]) -> list[timeline.Interval]:
    return [
        timeline.Interval(
            start=r.started_at, end=r.ended_at, state=r.state, source=r.source, reason_id=r.reason_id, row_id=r.pk
        )
        for r in rows
    ]


Calendars = tuple[dispatch.WorkingCalendar, dict[int, dispatch.WorkingCalendar]]


def site_oee(
    *,
    site: Site,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    stations: QuerySet[Workstation] | Sequence[Workstation] | None = None,
    since: dt.datetime | None = None,
    calendars: Calendars | None = None,
) -> OeeReport:
    """OEE of every station (or ``stations``) of ``site`` for the shifts that start
    in ``[start, end)``, from the site's start (``site_since``: time before the
    plant existed is not planned) up to ``now``. Six queries; one fewer for each of
    what the caller has already read: ``stations`` as loaded objects (a list; a
    queryset is read here), ``since`` (``site_since``) and ``calendars``
    (``site_calendars``). The state rows carry ``set_by_name`` (who set them)."""
    now = now or timezone.now()
    since = since if since is not None else site_since(site=site)
    if stations is None:
        stations = Workstation.objects.filter(site=site, active=True)
    if isinstance(stations, QuerySet):
        station_list = list(stations.filter(site=site).order_by("code"))
    else:
        station_list = sorted((ws for ws in stations if ws.site_id == site.pk), key=lambda ws: ws.code)
    base, overrides = calendars if calendars is not None else site_calendars(site=site)
    shift_sets = {ws.pk: oee.shifts(overrides.get(ws.pk, base), start, end) for ws in station_list}
    all_shifts = {s.key: s for ss in shift_sets.values() for s in ss}
    shift_list = sorted(all_shifts.values(), key=lambda s: s.start)
    report = OeeReport(site=site, start=start, end=end, now=now, stations=station_list, shifts=shift_list, rows=[])
    if not shift_list or not station_list:
        return report
    # Shifts that ended before the plant began, or have not begun yet, have nothing to say.
    shift_list = [s for s in shift_list if s.end > since and s.start < now]
    shift_sets = {pk: [s for s in ss if s.end > since and s.start < now] for pk, ss in shift_sets.items()}
    report.shifts = shift_list
    if not shift_list:
        return report
    lo = max(min(s.start for s in shift_list), since)
    hi = min(max(s.end for s in shift_list), now)
    if hi <= lo:
        return report
    ids = [ws.pk for ws in station_list]
    states: dict[int, list[StationState]] = defaultdict(list)
    # The rows over the window, and every open one (the state now, even after the last shift
    # ended: ``station_now`` reads it from here; the timeline ignores what lies past ``hi``).
    for row in (
        StationState.objects.filter(workstation_id__in=ids)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=lo, started_at__lt=hi))
        .select_related("reason", "reason__parent")
        .annotate(set_by_name=F("set_by__username"))
        .order_by("started_at", "pk")
    ):
        states[row.workstation_id].append(row)
    report.states = states
    runs = list(
        OperationRun.objects.filter(workstation_id__in=ids, queued_at__isnull=False, queued_at__lt=hi)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gt=lo))
        .select_related("operation")
        .order_by("pk")
    )
    finished_ids = [r.pk for r in runs if r.status in (RunStatus.DONE, RunStatus.FAILED) and r.finished_at]
    rejects: dict[int, Decimal] = {
        row["run_id"]: row["q"]
        for row in Defect.objects.filter(run_id__in=finished_ids, disposition__in=REJECT_DISPOSITIONS)
        .values("run_id")
        .annotate(q=Sum("quantity"))
        .order_by()
    }
    capacity = {ws.pk: max(ws.capacity, 1) for ws in station_list}
    queued: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    counts: dict[int, list[oee.Count]] = defaultdict(list)
    for r in runs:
        ws_id = r.workstation_id
        if ws_id is None or r.queued_at is None:
            continue
        waited_until = r.started_at or r.finished_at or now
        queued[ws_id].append((r.queued_at, waited_until))
        if r.status in (RunStatus.DONE, RunStatus.FAILED) and r.finished_at is not None:
            calendar = overrides.get(ws_id, base)
            counts[ws_id].append(
                oee.Count(
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    quantity=r.quantity,
                    rejects=rejects.get(r.pk, Decimal(0)),
                    # A station that runs `capacity` jobs at once makes that many units per ideal cycle.
                    ideal_seconds=r.operation.ideal_seconds_per_unit / capacity.get(ws_id, 1),
                    worked_seconds=(
                        oee.worked_seconds(calendar, r.started_at, r.finished_at)
                        if r.started_at is not None and r.started_at < r.finished_at
                        else None
                    ),
                )
            )
    reasons = {row.reason_id: row.reason for rows in states.values() for row in rows if row.reason_id}
    for ws in station_list:
        segs = timeline.merge(_intervals(states[ws.pk]), lo, hi, queued[ws.pk])
        report.timelines[ws.pk] = segs
        for shift in shift_sets[ws.pk]:
            figs = oee.figures(segs, shift, counts[ws.pk], now, since)
            windows = oee.working_windows(shift, now, since)
            stops = [
                Stop(
                    workstation=ws.code,
                    start=s.start,
                    end=s.end,
                    state=s.state,
                    source=s.source,
                    reason=reasons.get(s.reason_id) if s.reason_id else None,
                    row_id=s.row_id,
                    shift_key=shift.key,
                )
                for s in timeline.clip(segs, windows)
                if s.state in STOP_STATES
            ]
            report.rows.append(StationShift(workstation=ws, shift=shift, figures=figs, stops=stops))
    return report


@dataclass
class StationNow:
    """A station's state now and what the operator is asked."""

    state: str
    source: str
    since: dt.datetime | None
    open_stop: StationState | None
    reason_needed: StationState | None
    today: oee.Figures | None = None


def station_now(
    *, workstation: Workstation, now: dt.datetime | None = None, rows: Sequence[StationState] | None = None
) -> StationNow:
    """Its current merged state, the open stop (operator's first, else the device's)
    and a device stop waiting for a reason. One query, none when ``rows`` holds the
    station's state rows already read (an ``OeeReport``'s ``states``: every open one
    is among them)."""
    now = now or timezone.now()
    if rows is None:
        rows = list(
            StationState.objects.filter(workstation=workstation, ended_at__isnull=True)
            .select_related("reason", "reason__parent")
            .annotate(set_by_name=F("set_by__username"))
        )
    open_rows = [r for r in rows if r.ended_at is None]
    segs = timeline.merge(_intervals(open_rows), now - dt.timedelta(seconds=1), now)
    current = segs[-1] if segs else None
    stops = sorted((r for r in open_rows if r.is_stop), key=lambda r: timeline.PRECEDENCE.index(r.source))
    since = next((r.started_at for r in open_rows if current and r.pk == current.row_id), None)
    return StationNow(
        state=current.state if current else timeline.IDLE_STARVED,
        source=current.source if current else timeline.DERIVED,
        since=since,
        open_stop=stops[0] if stops else None,
        reason_needed=next((r for r in stops if r.reason_id is None), None),
    )


@dataclass
class StationPanel:
    """What the station page's state panel shows of the station (nothing of the user's)."""

    state: StationNow
    today: oee.Figures
    reasons: list[ReasonCode]


def station_panel_data(*, workstation: Workstation, now: dt.datetime | None = None) -> StationPanel:
    """The station's state now, its OEE so far today (the local day's shifts) and the
    site's stop reasons: five queries (``workstation`` loaded with its site), none
    while the site's WIP version stands (``plan_cache.cached_at_version``: every
    committed run, state, defect or reason change moves it; time alone, at most
    ``plan_cache.PLAN_TTL`` s). With ``now`` given (a past or a test's moment), read
    afresh, never cached."""
    if now is not None:
        return _station_panel_data(workstation, now)
    return plan_cache.cached_at_version(
        workstation.site_id, f"oee:panel:{workstation.pk}", lambda: _station_panel_data(workstation, timezone.now())
    )


def _station_panel_data(workstation: Workstation, now: dt.datetime) -> StationPanel:
    site = workstation.site
    zone = ZoneInfo(site.time_zone or "UTC")
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(0), tzinfo=zone)
    report = site_oee(site=site, start=midnight, end=midnight + dt.timedelta(days=1), now=now, stations=[workstation])
    rows = report.states.get(workstation.pk, []) if report.states is not None else None
    return StationPanel(
        state=station_now(workstation=workstation, now=now, rows=rows),
        today=report.total(),
        reasons=reason_tree(site=site),
    )


def reason_tree(*, site: Site) -> list[ReasonCode]:
    """The site's active leaf reasons (with their parent) in tree order, for pick lists."""
    rows = list(ReasonCode.objects.filter(site=site, active=True).select_related("parent"))
    parents = {r.parent_id for r in rows if r.parent_id}
    leaves = [r for r in rows if r.pk not in parents]
    return sorted(leaves, key=lambda r: (r.parent.name if r.parent else r.name, r.name))


def reasons_for_user(*, user: Any, site: Site) -> QuerySet[ReasonCode]:
    return ReasonCode.objects.restrict(user, "view").filter(site=site).select_related("parent")


def states_for_user(*, user: Any) -> QuerySet[StationState]:
    return StationState.objects.restrict(user, "view").select_related(
        "workstation", "reason", "reason__parent", "set_by", "reason_by"
    )


def current_shift_oee(
    *,
    site: Site,
    now: dt.datetime | None = None,
    stations: Sequence[Workstation] | None = None,
    since: dt.datetime | None = None,
    calendars: Calendars | None = None,
) -> dict[str, oee.Figures]:
    """Each station's figures so far in its current shift, by station code
    (the plant dashboard's OEE column): the last shift that started. Six queries,
    fewer for what the caller passes (``site_oee``); none while the site's WIP
    version stands (``plan_cache.cached_at_version``, as ``station_panel_data``;
    with ``now`` given, read afresh). ``stations``: the site's active stations, loaded."""
    if now is not None:
        return _current_shift_oee(site, now, stations, since, calendars)
    return plan_cache.cached_at_version(
        site.pk, "oee:shift", lambda: _current_shift_oee(site, timezone.now(), stations, since, calendars)
    )


def _current_shift_oee(
    site: Site,
    now: dt.datetime,
    stations: Sequence[Workstation] | None,
    since: dt.datetime | None,
    calendars: Calendars | None,
) -> dict[str, oee.Figures]:
    report = site_oee(
        site=site,
        start=now - dt.timedelta(days=1),
        end=now,
        now=now,
        stations=stations,
        since=since,
        calendars=calendars,
    )
    latest: dict[str, oee.Figures] = {}
    for r in sorted(report.rows, key=lambda r: r.shift.start):
        latest[r.workstation.code] = r.figures  # the last shift started: the current (or the last) one
    return latest
