"""The site plan: calendars, ETAs per work order (``dispatch.schedule``) and each station's dispatch list."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from tracker.models import Site
from wip import dispatch, plan_cache
from wip.models import (
    ACTIVE_RUN_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    Operation,
    OperationRun,
    RunStatus,
    WorkingHours,
    WorkOrder,
    Workstation,
)


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
    """Simulate the site forward (``dispatch.schedule``): five queries in all.

    Without ``now`` the plan comes from the per-site cache (``wip.plan_cache``: reused until the next
    committed WIP change, ``PLAN_TTL`` seconds at most), and its ``now`` is when it was computed.
    """
    if now is None:
        return plan_cache.cached_plan(site.pk, lambda: _site_schedule(site=site, now=timezone.now()))
    return _site_schedule(site=site, now=now)


def _site_schedule(*, site: Site, now: dt.datetime) -> SitePlan:
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
        return groups.get(op.group_id, ()) if op.group_id is not None else ()

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


def dispatch_list(
    *, user: Any, workstation: Workstation, now: dt.datetime | None = None, visible: bool | None = None
) -> list[DispatchRow]:
    """The station's work in the order to do it: what runs there first, then its
    queue (and its group's unassigned queue) by the site's dispatch rule.
    ``visible``: True when the caller looked ``workstation`` up through
    ``restrict(user, "view")`` (no second check); the station's site is used as
    loaded when it was (``select_related("site")``)."""
    if not visible and not Workstation.objects.restrict(user, "view").filter(pk=workstation.pk).exists():
        return []
    site = workstation.site if Workstation.site.is_cached(workstation) else Site.objects.get(pk=workstation.site_id)
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
