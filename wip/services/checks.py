"""Periodic checks (Celery beat): overtime runs, stations over their WIP limit, late work orders."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tracker.models import Severity, Site
from tracker.services import alert_clear, alert_raise
from wip.models import OperationRun, RunStatus, WorkOrder, WorkOrderStatus, Workstation
from wip.services._common import ALERT_LATE, ALERT_OVERTIME, ALERT_QUEUE_OVER_LIMIT, _now


def _factor(site: Site) -> float:
    try:
        return float(site.setting("overtime_factor", 1.5))
    except (TypeError, ValueError):
        return 1.5


def check_overtime(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise an alert for each run running longer than its standard time × the
    site's ``overtime_factor`` (default 1.5). Returns how many were raised."""
    now = _now(now)
    factor = _factor(site)
    raised = 0
    running = OperationRun.objects.filter(site=site, status=RunStatus.RUNNING, started_at__isnull=False).select_related(
        "work_order", "workstation"
    )
    for run in running.order_by("pk"):
        if run.started_at is None:  # excluded by the query; the check narrows the type
            continue
        elapsed_min = ((now - run.started_at).total_seconds() - run.paused_seconds) / 60
        limit = float(run.planned_minutes) * factor
        if run.planned_minutes > 0 and elapsed_min > limit:
            alert_raise(
                site=site,
                kind=ALERT_OVERTIME,
                subject=f"run:{run.pk}",
                severity=Severity.WARNING,
                message=f"{run.work_order.number} step {run.sequence} at "
                f"{run.workstation.code if run.workstation is not None else 'no workstation'} has run "
                f"{elapsed_min:.0f} min against a standard of {float(run.planned_minutes):.0f} min.",
                data={
                    "work_order": run.work_order.number,
                    "run": run.pk,
                    "elapsed_minutes": round(elapsed_min, 1),
                    "standard_minutes": float(run.planned_minutes),
                    "factor": factor,
                },
                at=now,
            )
            if not run.alerted_overtime:
                OperationRun.objects.filter(pk=run.pk).update(alerted_overtime=True)
            raised += 1
    return raised


def check_wip_limits(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise (or clear) the queue-over-WIP-limit alert of each station."""
    from django.db.models import Count, Q

    now = _now(now)
    stations = Workstation.objects.filter(site=site, wip_limit__isnull=False).annotate(
        wip=Count("runs", filter=Q(runs__status__in=(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)))
    )
    over = 0
    for station in stations.order_by("pk"):
        subject = f"workstation:{station.code}"
        if station.wip_limit is None:  # excluded by the query; the check narrows the type
            continue
        if station.wip > station.wip_limit:
            over += 1
            alert_raise(
                site=site,
                kind=ALERT_QUEUE_OVER_LIMIT,
                subject=subject,
                severity=Severity.WARNING,
                message=f"{station.code} holds {station.wip} jobs against a WIP limit of {station.wip_limit}.",
                data={"workstation": station.code, "wip": station.wip, "limit": station.wip_limit},
                at=now,
            )
        else:
            alert_clear(site=site, kind=ALERT_QUEUE_OVER_LIMIT, subject=subject, at=now)
    return over


def check_late(*, site: Site, now: dt.datetime | None = None) -> int:
    """Raise an alert for each open order whose ETA is after its due date; clear it otherwise."""
    from wip.selectors import site_schedule

    now = _now(now)
    plan = site_schedule(site=site, now=now)
    late = 0
    open_orders = WorkOrder.objects.filter(
        site=site, status__in=(WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ON_HOLD)
    )
    for number, due_at in open_orders.order_by("pk").values_list("number", "due_at"):
        estimate = plan.orders.get(number)
        subject = f"workorder:{number}"
        if estimate is not None and due_at is not None and estimate.eta > due_at:
            late += 1
            alert_raise(
                site=site,
                kind=ALERT_LATE,
                subject=subject,
                severity=Severity.WARNING,
                message=f"{number} will finish {timezone.localtime(estimate.eta):%Y-%m-%d %H:%M}, after its due date "
                f"{timezone.localtime(due_at):%Y-%m-%d %H:%M}.",
                data={"work_order": number, "eta": estimate.eta.isoformat(), "due_at": due_at.isoformat()},
                at=now,
            )
        else:
            alert_clear(site=site, kind=ALERT_LATE, subject=subject, at=now)
    return late
