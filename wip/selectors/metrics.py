"""WIP metrics per station and site: throughput, utilisation, queue times, the bottleneck."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from tracker.models import Site
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
    top = max(candidates, key=lambda s: (s.utilisation or 0.0, s.avg_queue_minutes or 0.0, s.queue_length))
    utilisation = top.utilisation
    if utilisation is None:  # every candidate has one; this narrows the type
        return None
    queued = [s for s in candidates if s.avg_queue_minutes is not None]
    longest = max(queued, key=lambda s: s.avg_queue_minutes or 0.0) if queued else None
    text = f"{top.code} is the bottleneck: it is busy {utilisation:.0%} of its available time, the highest of the site"
    if top.avg_queue_minutes is not None:
        text += f", and work waits {top.avg_queue_minutes:.0f} min on average in front of it"
    if longest is not None and longest.code != top.code:
        text += f". The longest wait is in front of {longest.code} ({longest.avg_queue_minutes:.0f} min)"
    elif longest is not None:
        text += " (the longest wait of any station)"
    text += "."
    return Bottleneck(code=top.code, utilisation=utilisation, avg_queue_minutes=top.avg_queue_minutes, explanation=text)


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
