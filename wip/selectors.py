"""Reads of wip: queues in dispatch order, ETAs, the WIP board, load and metrics.

Functions taking ``user`` start from ``.restrict(user, "view")``; the
``site_*`` helpers are internal (tasks, services) and take a site the caller
has already checked. Every read here issues a fixed number of queries,
however many work orders there are: rows are fetched in bulk and the
scheduling arithmetic runs in ``wip.dispatch`` on plain data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from tracker.models import Site
from tracker.scoping import has_model_permission
from wip import dispatch
from wip.models import (
    ACTIVE_RUN_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    Defect,
    Disposition,
    Hold,
    Inspection,
    Operation,
    OperationRun,
    Routing,
    RunStatus,
    WorkingHours,
    WorkOrder,
    WorkOrderStatus,
    Workstation,
)

# --- access helpers --------------------------------------------------------------


def workstations_for_user(*, user: Any, site: Site | None = None) -> QuerySet[Workstation]:
    qs = Workstation.objects.restrict(user, "view").select_related("site", "location", "group")
    return qs.filter(site=site) if site is not None else qs


def work_orders_for_user(*, user: Any, site: Site | None = None) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.restrict(user, "view").select_related("site", "item", "routing")
    return qs.filter(site=site) if site is not None else qs


def dispatch_rule(site: Site) -> str:
    rule = site.setting("dispatch_rule", dispatch.DEFAULT_RULE)
    return rule if rule in dispatch.RULES else dispatch.DEFAULT_RULE


# --- calendars -------------------------------------------------------------------


def site_calendars(*, site: Site) -> tuple[dispatch.WorkingCalendar, dict[int, dispatch.WorkingCalendar]]:
    """The site's calendar and per-station overrides (one query)."""
    site_week: dict[int, list] = defaultdict(list)
    station_weeks: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for row in WorkingHours.objects.filter(site=site).order_by("weekday", "start"):
        target = station_weeks[row.workstation_id] if row.workstation_id else site_week
        target[row.weekday].append((row.start, row.end))
    tz = site.time_zone or "UTC"
    base = dispatch.WorkingCalendar(site_week, tz) if site_week else dispatch.WorkingCalendar.default(tz)
    return base, {sid: dispatch.WorkingCalendar(week, tz) for sid, week in station_weeks.items()}


# --- the site plan: ETA per work order -----------------------------------------


@dataclass
class SitePlan:
    """The finite-capacity schedule of a site's open work, as of ``now``."""

    now: dt.datetime
    rule: str
    stations: dict[str, Workstation]
    station_models: dict[str, dispatch.Station]
    orders: dict[str, dispatch.Estimate]  # by work order number: the latest of its batches
    runs: dict[int, dispatch.Estimate]  # by active run id
    chains: list[dispatch.Order] = field(default_factory=list)
    active_runs: list[OperationRun] = field(default_factory=list)


def _remaining_current(run: OperationRun, now: dt.datetime) -> float:
    planned = float(run.planned_minutes)
    if run.status == RunStatus.QUEUED or run.started_at is None:
        return planned
    until = run.paused_at if run.status == RunStatus.PAUSED and run.paused_at else now
    elapsed = ((until - run.started_at).total_seconds() - run.paused_seconds) / 60
    return max(planned - elapsed, 0.0)


def site_schedule(*, site: Site, now: dt.datetime | None = None) -> SitePlan:
    """Simulate the site forward (``dispatch.schedule``): five queries in all."""
    now = now or timezone.now()
    base, overrides = site_calendars(site=site)
    stations = {ws.code: ws for ws in Workstation.objects.filter(site=site).select_related("location").in_flow_order()}
    by_pk = {ws.pk: ws for ws in stations.values()}
    models = {code: dispatch.Station(code, ws.capacity, overrides.get(ws.pk, base)) for code, ws in stations.items()}
    groups: dict[int, tuple[str, ...]] = defaultdict(tuple)
    for ws in stations.values():
        if ws.group_id and ws.active:
            groups[ws.group_id] += (ws.code,)
    active = list(
        OperationRun.objects.filter(
            site=site, status__in=ACTIVE_RUN_STATUSES, work_order__status__in=OPEN_WORK_ORDER_STATUSES
        )
        .select_related("work_order", "work_order__item", "operation")
        .order_by("pk")
    )
    routing_ids = {run.work_order.routing_id for run in active}
    operations: dict[int, list[Operation]] = defaultdict(list)
    for op in Operation.objects.filter(routing_id__in=routing_ids).order_by("routing_id", "sequence"):
        operations[op.routing_id].append(op)

    def stations_of(op: Operation) -> tuple[str, ...]:
        if op.workstation_id:
            ws = by_pk.get(op.workstation_id)
            return (ws.code,) if ws else ()
        return groups.get(op.group_id, ())

    chains = []
    for run in active:
        first = (by_pk[run.workstation_id].code,) if run.workstation_id in by_pk else stations_of(run.operation)
        steps = [dispatch.Step(first, _remaining_current(run, now))] if first else []
        for op in operations[run.work_order.routing_id]:
            if op.sequence > run.sequence and stations_of(op):
                steps.append(dispatch.Step(stations_of(op), float(op.standard_minutes(run.quantity))))
        chains.append(
            dispatch.Order(
                key=str(run.pk),
                steps=tuple(steps),
                queued_at=run.queued_at or now,
                due_at=run.work_order.due_at,
                priority=run.work_order.priority,
                running=run.status in (RunStatus.RUNNING, RunStatus.PAUSED),
            )
        )
    rule = dispatch_rule(site)
    estimates = dispatch.schedule(chains, models, rule=rule, now=now)
    per_run = {int(key): estimate for key, estimate in estimates.items()}
    per_order: dict[str, dispatch.Estimate] = {}
    for run in active:
        estimate = per_run[run.pk]
        number = run.work_order.number
        if number not in per_order or estimate.eta > per_order[number].eta:
            per_order[number] = dispatch.Estimate(
                key=number,
                eta=estimate.eta,
                due_at=run.work_order.due_at,
                risk=dispatch.late_risk(eta=estimate.eta, due_at=run.work_order.due_at, now=now),
                steps=estimate.steps,
            )
    return SitePlan(
        now=now,
        rule=rule,
        stations=stations,
        station_models=models,
        orders=per_order,
        runs=per_run,
        chains=chains,
        active_runs=active,
    )


# --- dispatch list per station --------------------------------------------------


@dataclass
class DispatchRow:
    position: int
    run: OperationRun
    work_order: WorkOrder
    processing_minutes: float
    remaining_minutes: float
    eta: dt.datetime | None
    risk: str
    critical_ratio: float | None


def dispatch_list(*, user: Any, workstation: Workstation, now: dt.datetime | None = None) -> list[DispatchRow]:
    """The station's work in the order to do it: what runs there first, then its
    queue (and its group's unassigned queue) by the site's dispatch rule."""
    if not Workstation.objects.restrict(user, "view").filter(pk=workstation.pk).exists():
        return []
    site = Site.objects.get(pk=workstation.site_id)
    plan = site_schedule(site=site, now=now)
    now = plan.now
    mine = []
    for run in plan.active_runs:
        at_station = run.workstation_id == workstation.pk
        for_group = (
            run.workstation_id is None
            and run.status == RunStatus.QUEUED
            and workstation.group_id is not None
            and run.operation.group_id == workstation.group_id
        )
        if at_station or for_group:
            mine.append(run)
    chains = {int(order.key): order for order in plan.chains}

    def job(run: OperationRun) -> dispatch.Job:
        chain = chains[run.pk]
        return dispatch.Job(
            key=str(run.pk),
            queued_at=run.queued_at or now,
            processing_minutes=chain.steps[0].minutes if chain.steps else 0.0,
            remaining_minutes=sum(s.minutes for s in chain.steps),
            due_at=run.work_order.due_at,
            priority=run.work_order.priority,
        )

    busy = sorted((r for r in mine if r.status != RunStatus.QUEUED), key=lambda r: (r.started_at or now, r.pk))
    queued = {str(r.pk): r for r in mine if r.status == RunStatus.QUEUED}
    ordered = busy + [queued[j.key] for j in dispatch.dispatch_order([job(r) for r in queued.values()], plan.rule, now)]
    rows = []
    for position, run in enumerate(ordered, start=1):
        the_job = job(run)
        estimate = plan.orders.get(run.work_order.number)
        cr = dispatch.critical_ratio(the_job, now)
        rows.append(
            DispatchRow(
                position=position,
                run=run,
                work_order=run.work_order,
                processing_minutes=round(the_job.processing_minutes, 1),
                remaining_minutes=round(the_job.remaining_minutes, 1),
                eta=estimate.eta if estimate else None,
                risk=estimate.risk if estimate else dispatch.NO_DUE_DATE,
                critical_ratio=None if cr in (float("inf"), float("-inf")) else round(cr, 2),
            )
        )
    return rows


# --- the WIP board ----------------------------------------------------------------


@dataclass
class BoardCard:
    work_order: WorkOrder
    run: OperationRun | None
    eta: dt.datetime | None
    risk: str
    held: bool


@dataclass
class BoardColumn:
    key: str
    title: str
    workstation: Workstation | None
    cards: list[BoardCard]
    wip_limit: int | None = None

    @property
    def over_limit(self) -> bool:
        return self.wip_limit is not None and len(self.cards) > self.wip_limit


def wip_board(*, user: Any, site: Site, now: dt.datetime | None = None) -> list[BoardColumn]:
    """One column per workstation, in flow order (``Workstation.objects.in_flow_order``),
    with a card per batch there; a column per group queue not yet at a station; one
    for orders with nothing active (waiting on a defect decision, released but not
    arrived, or held)."""
    if not has_model_permission(user, WorkOrder, "view") and not getattr(user, "is_superuser", False):
        return []
    if not Site.objects.restrict(user, "view").filter(pk=site.pk).exists():
        return []
    plan = site_schedule(site=site, now=now)
    columns: dict[str, BoardColumn] = {
        code: BoardColumn(key=code, title=f"{ws.code} · {ws.name}", workstation=ws, cards=[], wip_limit=ws.wip_limit)
        for code, ws in plan.stations.items()
        if ws.active
    }
    by_pk = {ws.pk: ws for ws in plan.stations.values()}
    seen_orders = set()
    for run in plan.active_runs:
        estimate = plan.orders.get(run.work_order.number)
        card = BoardCard(
            work_order=run.work_order,
            run=run,
            eta=estimate.eta if estimate else None,
            risk=estimate.risk if estimate else dispatch.NO_DUE_DATE,
            held=run.work_order.status == WorkOrderStatus.ON_HOLD,
        )
        seen_orders.add(run.work_order_id)
        ws = by_pk.get(run.workstation_id)
        if ws is not None and ws.code in columns:
            columns[ws.code].cards.append(card)
        else:
            key = f"group:{run.operation.group_id}"
            if key not in columns:
                columns[key] = BoardColumn(key=key, title="Group queue", workstation=None, cards=[])
            columns[key].cards.append(card)
    idle = (
        WorkOrder.objects.filter(site=site, status__in=OPEN_WORK_ORDER_STATUSES)
        .exclude(pk__in=seen_orders)
        .select_related("item")
        .order_by("due_at", "pk")
    )
    other = BoardColumn(
        key="other",
        title="Held or awaiting a decision",
        workstation=None,
        cards=[
            BoardCard(
                work_order=wo, run=None, eta=None, risk=dispatch.NO_DUE_DATE, held=wo.status == WorkOrderStatus.ON_HOLD
            )
            for wo in idle
        ],
    )
    order = {"queued": 1, "running": 0, "paused": 0}
    for column in columns.values():
        column.cards.sort(
            key=lambda c: (order.get(c.run.status, 2) if c.run else 2, c.run.queued_at or plan.now, c.run.pk)
        )
    return [*columns.values(), other]


# --- work order timeline ----------------------------------------------------------


@dataclass
class TimelineStep:
    run: OperationRun
    planned_minutes: float
    actual_minutes: float | None
    queue_minutes: float | None
    planned_start: dt.datetime | None
    planned_end: dt.datetime | None


def work_order_timeline(
    *, work_order: WorkOrder, now: dt.datetime | None = None
) -> tuple[list[TimelineStep], dispatch.Estimate | None]:
    """Each run of the order, planned (standard minutes and, for open steps, the
    schedule) against actual (queue and run time)."""
    site = work_order.site
    plan = site_schedule(site=site, now=now)
    scheduled: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    runs = list(
        OperationRun.objects.filter(work_order=work_order)
        .select_related("operation", "workstation", "operator")
        .order_by("sequence", "pk")
    )
    for run in runs:
        estimate = plan.runs.get(run.pk)
        if estimate and estimate.steps:
            scheduled[run.pk] = (estimate.steps[0].start, estimate.steps[0].end)
    steps = []
    for run in runs:
        actual = run.busy_seconds
        queue = (run.started_at - run.queued_at).total_seconds() / 60 if run.started_at and run.queued_at else None
        start, end = scheduled.get(run.pk, (None, None))
        steps.append(
            TimelineStep(
                run=run,
                planned_minutes=float(run.planned_minutes),
                actual_minutes=None if actual is None else actual / 60,
                queue_minutes=queue,
                planned_start=start,
                planned_end=end,
            )
        )
    return steps, plan.orders.get(work_order.number)


# --- load ---------------------------------------------------------------------------


@dataclass
class StationLoad:
    workstation: Workstation
    days: list[dispatch.DayLoad]

    @property
    def required_hours(self) -> float:
        return round(sum(d.required_hours for d in self.days), 2)

    @property
    def available_hours(self) -> float:
        return round(sum(d.available_hours for d in self.days), 2)

    @property
    def state(self) -> str:
        if any(d.state == dispatch.OVERLOADED for d in self.days):
            return dispatch.OVERLOADED
        if self.required_hours <= 0:
            return dispatch.IDLE
        return dispatch.LOADED


@dataclass
class OperatorLoad:
    username: str
    running: int
    paused: int
    remaining_hours: float
    stations: list[str]


def load_view(*, user: Any, site: Site, days: int = 14, now: dt.datetime | None = None) -> dict[str, Any]:
    """Per station and day, hours required (to meet due dates, at infinite
    capacity) against hours available; per operator, the work they hold."""
    if not Workstation.objects.restrict(user, "view").filter(site=site).exists():
        return {"stations": [], "operators": [], "days": []}
    plan = site_schedule(site=site, now=now)
    profile = dispatch.load_profile(plan.chains, plan.station_models, now=plan.now, days=days)
    stations = [StationLoad(workstation=ws, days=profile[code]) for code, ws in plan.stations.items() if ws.active]
    remaining: dict[int, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for run in plan.active_runs:
        if run.operator_id and run.status in (RunStatus.RUNNING, RunStatus.PAUSED):
            entry = remaining[run.operator_id]
            entry[0 if run.status == RunStatus.RUNNING else 1] += 1
            entry[2] += _remaining_current(run, plan.now) / 60
    through = Workstation.operators.through.objects.filter(workstation__site=site).select_related("user", "workstation")
    allowed: dict[int, list[str]] = defaultdict(list)
    names: dict[int, str] = {}
    for link in through.order_by("workstation__code"):
        allowed[link.user_id].append(link.workstation.code)
        names[link.user_id] = link.user.get_username()
    missing = set(remaining) - set(names)
    if missing:
        from django.contrib.auth import get_user_model

        names.update(dict(get_user_model().objects.filter(pk__in=missing).values_list("pk", "username")))
    operators = [
        OperatorLoad(
            username=names[uid],
            running=int(remaining[uid][0]),
            paused=int(remaining[uid][1]),
            remaining_hours=round(remaining[uid][2], 2),
            stations=allowed.get(uid, []),
        )
        for uid in sorted(names, key=lambda u: names[u])
    ]
    day_list = stations[0].days if stations else []
    return {"stations": stations, "operators": operators, "days": [d.day for d in day_list], "rule": plan.rule}


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
    def littles_law(self) -> float:
        """Throughput (runs/hour) × cycle time (hours): should be close to ``avg_wip``."""
        return self.throughput_per_hour * (self.avg_cycle_minutes or 0.0) / 60


def _station_aggregates(site: Site, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> QuerySet:
    """Every figure of every station of the site in one query (conditional aggregates
    over its runs: one join, so nothing is counted twice)."""
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
    return (
        Workstation.objects.filter(site=site)
        .annotate(
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


def station_metrics(
    *, site: Site, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> list[StationMetrics]:
    """Per workstation over ``[start, end)``: queue and WIP now, utilisation
    (busy time over calendar time × capacity), average queue and cycle time,
    throughput, first-pass yield and scrap rate. Two queries."""
    now = now or timezone.now()
    end = min(end, max(now, start))
    base, overrides = site_calendars(site=site)
    period_hours = max((end - start).total_seconds() / 3600, 0.0)
    out = []
    for ws in _station_aggregates(site, start, end, now):
        calendar = overrides.get(ws.pk, base)
        available = calendar.working_minutes(start, end) * ws.capacity / 60
        busy = max(_seconds(ws.busy) - float(ws.paused or 0), 0.0) / 3600
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
                avg_wip=(_seconds(ws.present) / 3600 / period_hours) if period_hours else 0.0,
                first_pass_yield=fpy,
                period_hours=period_hours,
            )
        )
    return out


@dataclass
class Bottleneck:
    code: str
    utilisation: float
    avg_queue_minutes: float | None
    explanation: str


def find_bottleneck(stations: list[StationMetrics]) -> Bottleneck | None:
    """The station with the highest utilisation (ties: the longer queue time),
    with why; if another station has the longest queue time, that is said too."""
    candidates = [s for s in stations if s.utilisation is not None and (s.busy_hours > 0 or s.queue_length > 0)]
    if not candidates:
        return None
    top = max(candidates, key=lambda s: (s.utilisation, s.avg_queue_minutes or 0.0, s.queue_length))
    queued = [s for s in candidates if s.avg_queue_minutes is not None]
    longest = max(queued, key=lambda s: s.avg_queue_minutes) if queued else None
    text = (
        f"{top.code} is the bottleneck: it is busy {top.utilisation:.0%} of its available time, the highest of the site"
    )
    if top.avg_queue_minutes is not None:
        text += f", and work waits {top.avg_queue_minutes:.0f} min on average in front of it"
    if longest is not None and longest.code != top.code:
        text += f". The longest wait is in front of {longest.code} ({longest.avg_queue_minutes:.0f} min)"
    elif longest is not None:
        text += " (the longest wait of any station)"
    text += "."
    return Bottleneck(
        code=top.code, utilisation=top.utilisation, avg_queue_minutes=top.avg_queue_minutes, explanation=text
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
    def littles_law(self) -> float:
        """Order throughput × order cycle time: compare with ``avg_wip_orders``."""
        return self.order_throughput_per_hour * (self.avg_order_cycle_hours or 0.0)


def site_metrics(*, site: Site, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> SiteMetrics:
    """The site over ``[start, end)``: the stations' figures, the bottleneck and
    the work-order level Little's law cross-check (average orders in progress
    against throughput × cycle time). Four queries."""
    now = now or timezone.now()
    stations = station_metrics(site=site, start=start, end=end, now=now)
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


# --- quality lists -----------------------------------------------------------------


def open_defects(*, user: Any, site: Site) -> QuerySet[Defect]:
    return (
        Defect.objects.restrict(user, "view")
        .filter(site=site, disposition=Disposition.OPEN)
        .select_related("work_order", "run", "workstation")
        .order_by("-reported_at")
    )


def recent_inspections(*, user: Any, site: Site) -> QuerySet[Inspection]:
    return (
        Inspection.objects.restrict(user, "view")
        .filter(site=site)
        .select_related("work_order", "run", "inspector")
        .order_by("-inspected_at")
    )


def open_holds(*, user: Any, site: Site) -> QuerySet[Hold]:
    return Hold.objects.restrict(user, "view").filter(site=site).open().select_related("work_order", "lot", "placed_by")


def routings_for_user(*, user: Any) -> QuerySet[Routing]:
    return Routing.objects.restrict(user, "view").select_related("site", "item")
