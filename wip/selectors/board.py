"""The WIP board, a work order's timeline and the load per station and operator."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tracker.models import Site
from tracker.scoping import has_model_permission, scope_site_ids
from wip import dispatch
from wip.models import OPEN_WORK_ORDER_STATUSES, OperationRun, RunStatus, WorkOrder, WorkOrderStatus, Workstation
from wip.selectors.planning import _remaining_current, site_schedule

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


BOARD_SHOW = (("", "all work"), ("late", "late or at risk"), ("held", "on hold"))


def board_visible(*, user: Any, site: Site) -> bool:
    """Whether ``user`` may see ``site``'s board (the work-order view permission and the site): then
    it sees all of it, the same columns as anyone else who may.

    ``restrict()``'s own decision (``scope_site_ids``) on a site already loaded: the ids are read
    once per request, so this costs no query (a ``.exists()`` on the restricted sites did)."""
    if not has_model_permission(user, WorkOrder, "view") and not getattr(user, "is_superuser", False):
        return False
    sites = scope_site_ids(user, Site, "view")
    return sites is None or site.pk in sites


def wip_board(
    *,
    user: Any,
    site: Site,
    now: dt.datetime | None = None,
    group: int | None = None,
    show: str = "",
    visible: bool | None = None,
) -> list[BoardColumn]:
    """One column per workstation, in flow order (``Workstation.objects.in_flow_order``),
    with a card per batch there; a column per group queue not yet at a station; one
    for orders with nothing active (waiting on a defect decision, released but not
    arrived, or held).

    ``group``: only that station group's columns (its stations and its queue);
    ``show``: ``late`` (late or at risk) or ``held`` cards only. The same queries either way.
    ``visible``: ``board_visible``'s answer when the caller already has it."""
    if visible is None:
        visible = board_visible(user=user, site=site)
    columns = _board(site=site, now=now) if visible else []
    if group is not None:
        columns = [
            c
            for c in columns
            if (c.workstation is not None and c.workstation.group_id == group) or c.key == f"group:{group}"
        ]
    if show in ("late", "held"):
        for column in columns:
            column.cards = [card for card in column.cards if _shown(card, show)]
    return columns


def _shown(card: BoardCard, show: str) -> bool:
    return card.held if show == "held" else card.risk in (dispatch.LATE, dispatch.AT_RISK)


def _board(*, site: Site, now: dt.datetime | None = None) -> list[BoardColumn]:
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
        ws = by_pk.get(run.workstation_id) if run.workstation_id is not None else None
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

    def position(card: BoardCard) -> tuple[int, dt.datetime, int]:
        """Running and paused first, then queued, each by queue time (station cards all have a run)."""
        if card.run is None:
            return (2, plan.now, 0)
        return (order.get(card.run.status, 2), card.run.queued_at or plan.now, card.run.pk)

    for column in columns.values():
        column.cards.sort(key=position)
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
