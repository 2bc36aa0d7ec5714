"""WIP reports per site and period, aggregated in the database.

Same contract as ``inventory.analytics``: ``(site, start, end, **options) -> Report``,
a fixed number of queries, Python only over aggregated rows. Durations are
summed/averaged by the database (``ExpressionWrapper`` of timestamp
differences); weeks come from ``TruncWeek`` (UTC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, DecimalField, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncWeek

from inventory.analytics.base import Report, _ratio, _window, report_rows
from tracker.models import Site
from wip.models import Defect, OperationRun, RunStatus, WorkOrder, WorkOrderStatus
from wip.selectors import station_metrics

DUR = DurationField()
MONEY = DecimalField(max_digits=24, decimal_places=4)
ZERO = Decimal("0")
FINISHED = (RunStatus.DONE, RunStatus.FAILED)


def _hours(value: Any) -> Decimal | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value) / 1_000_000
    return Decimal(str(round(seconds / 3600, 2)))


def _week(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def throughput(*, site: Site, start: dt.date, end: dt.date, by: str = "product", **_: Any) -> Report:
    """Completions per week: work orders per product (quantity, average release-to-completion
    hours) or runs per station (good quantity, average start-to-finish hours). One query."""
    t0, t1 = _window(start, end)
    if by == "station":
        rows = report_rows(
            OperationRun.objects.filter(
                site=site, status__in=FINISHED, finished_at__gte=t0, finished_at__lt=t1, workstation__isnull=False
            )
            .annotate(week=TruncWeek("finished_at", tzinfo=dt.UTC))
            .values("week", "workstation__code")
            .annotate(
                runs=Count("pk"),
                good=Sum("good_quantity"),
                cycle=Avg(ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DUR)),
            )
            .order_by("week", "workstation__code")
        )
        for r in rows:
            r["week"], r["avg_cycle_hours"] = _week(r["week"]), _hours(r.pop("cycle"))
        return Report(
            "throughput",
            "Throughput and cycle time per station",
            [
                ("week", "Week"),
                ("workstation__code", "Station"),
                ("runs", "Runs"),
                ("good", "Good quantity"),
                ("avg_cycle_hours", "Avg run hours"),
            ],
            rows,
            chart=("workstation__code", "good"),
        )
    rows = report_rows(
        WorkOrder.objects.filter(site=site, status=WorkOrderStatus.COMPLETED, completed_at__gte=t0, completed_at__lt=t1)
        .annotate(week=TruncWeek("completed_at", tzinfo=dt.UTC))
        .values("week", "item__sku")
        .annotate(
            orders=Count("pk"),
            quantity=Sum("quantity_completed"),
            cycle=Avg(ExpressionWrapper(F("completed_at") - F("released_at"), output_field=DUR)),
        )
        .order_by("week", "item__sku")
    )
    for r in rows:
        r["week"], r["avg_cycle_hours"] = _week(r["week"]), _hours(r.pop("cycle"))
    return Report(
        "throughput",
        "Throughput and cycle time per product",
        [
            ("week", "Week"),
            ("item__sku", "Product"),
            ("orders", "Orders"),
            ("quantity", "Quantity"),
            ("avg_cycle_hours", "Avg release → completion hours"),
        ],
        rows,
        chart=("item__sku", "quantity"),
    )


def on_time(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Completed orders with a due date, per week: on time (completed by the due time) and the rate. One query."""
    t0, t1 = _window(start, end)
    rows = report_rows(
        WorkOrder.objects.filter(
            site=site, status=WorkOrderStatus.COMPLETED, completed_at__gte=t0, completed_at__lt=t1, due_at__isnull=False
        )
        .annotate(week=TruncWeek("completed_at", tzinfo=dt.UTC))
        .values("week")
        .annotate(completed=Count("pk"), on_time=Count("pk", filter=Q(completed_at__lte=F("due_at"))))
        .order_by("week")
    )
    for r in rows:
        r["week"] = _week(r["week"])
        r["rate"] = _ratio(Decimal(r["on_time"] * 100), Decimal(r["completed"]), "0.1")
    done = sum(r["completed"] for r in rows)
    ok = sum(r["on_time"] for r in rows)
    return Report(
        "on-time",
        "On-time completion",
        [("week", "Week"), ("completed", "Completed with due date"), ("on_time", "On time"), ("rate", "On-time %")],
        rows,
        chart=("week", "rate"),
        summary={"on_time_rate": _ratio(Decimal(ok * 100), Decimal(done), "0.1"), "completed": done},
    )


def quality(*, site: Site, start: dt.date, end: dt.date, **_: Any) -> Report:
    """Per product and station: first-pass yield (good / quantity of first attempts) and scrap
    (quantity and standard cost of the product) of the runs finished in the period. One query."""
    t0, t1 = _window(start, end)
    first = Q(attempt=1)
    rows = report_rows(
        OperationRun.objects.filter(site=site, status__in=FINISHED, finished_at__gte=t0, finished_at__lt=t1)
        .values("work_order__item__sku", "workstation__code")
        .annotate(
            runs=Count("pk"),
            first_in=Sum("quantity", filter=first),
            first_good=Sum("good_quantity", filter=first),
            scrap=Sum("scrap_quantity"),
            scrap_cost=Sum(
                ExpressionWrapper(F("scrap_quantity") * F("work_order__item__standard_cost"), output_field=MONEY)
            ),
        )
        .order_by("-scrap_cost", "work_order__item__sku", "workstation__code")
    )
    for r in rows:
        r["first_pass_yield"] = _ratio((r["first_good"] or ZERO) * 100, r["first_in"] or ZERO, "0.1")
    return Report(
        "quality",
        "First-pass yield and scrap",
        [
            ("work_order__item__sku", "Product"),
            ("workstation__code", "Station"),
            ("runs", "Runs"),
            ("first_pass_yield", "First-pass yield %"),
            ("scrap", "Scrap quantity"),
            ("scrap_cost", "Scrap cost"),
        ],
        rows,
        chart=("workstation__code", "scrap_cost"),
        summary={"scrap_cost": sum((r["scrap_cost"] or ZERO for r in rows), ZERO)},
    )


def defect_pareto(*, site: Site, start: dt.date, end: dt.date, by: str = "code", **_: Any) -> Report:
    """Defect quantity by code (or by code and station), largest first, with the cumulative share. One query."""
    t0, t1 = _window(start, end)
    keys = ("code", "workstation__code") if by == "station" else ("code",)
    rows = report_rows(
        Defect.objects.filter(site=site, reported_at__gte=t0, reported_at__lt=t1)
        .values(*keys)
        .annotate(defects=Count("pk"), quantity=Sum("quantity"))
        .order_by("-quantity", *keys)
    )
    total = sum((r["quantity"] for r in rows), ZERO)
    running = ZERO
    for r in rows:
        running += r["quantity"]
        r["cumulative_share"] = _ratio(running * 100, total, "0.1")
    columns = [("code", "Code")] + ([("workstation__code", "Station")] if by == "station" else [])
    return Report(
        "defects",
        "Defect Pareto",
        columns + [("defects", "Reports"), ("quantity", "Quantity"), ("cumulative_share", "Cumulative %")],
        rows,
        chart=("code", "quantity"),
    )


def utilisation(*, site: Site, start: dt.date, end: dt.date, by: str = "station", **_: Any) -> Report:
    """Busy hours over available hours per station (site calendar × capacity, via
    ``wip.selectors.station_metrics``: two queries), or busy hours and runs per operator (one query)."""
    t0, t1 = _window(start, end)
    if by == "operator":
        rows = report_rows(
            OperationRun.objects.filter(
                site=site, status__in=FINISHED, finished_at__gte=t0, finished_at__lt=t1, started_at__isnull=False
            )
            .values("operator__username")
            .annotate(
                runs=Count("pk"),
                busy=Sum(ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DUR)),
                paused=Sum("paused_seconds"),
            )
            .order_by("operator__username")
        )
        for r in rows:
            busy = _hours(r.pop("busy")) or ZERO
            r["busy_hours"] = max(busy - Decimal(str(round((r.pop("paused") or 0) / 3600, 2))), ZERO)
            r["operator__username"] = r["operator__username"] or "(none)"
        return Report(
            "utilisation",
            "Busy time per operator",
            [("operator__username", "Operator"), ("runs", "Runs"), ("busy_hours", "Busy hours")],
            rows,
            chart=("operator__username", "busy_hours"),
            notes=["Runs finished in the period, pauses excluded."],
        )
    rows = []
    for s in station_metrics(site=site, start=t0, end=t1, now=t1):
        rows.append(
            {
                "code": s.code,
                "capacity": s.capacity,
                "busy_hours": Decimal(str(round(s.busy_hours, 2))),
                "available_hours": Decimal(str(round(s.available_hours, 2))),
                "utilisation": Decimal(str(round(s.utilisation * 100, 1))) if s.utilisation is not None else None,
            }
        )
    return Report(
        "utilisation",
        "Utilisation per station",
        [
            ("code", "Station"),
            ("capacity", "Capacity"),
            ("busy_hours", "Busy hours"),
            ("available_hours", "Available hours"),
            ("utilisation", "Utilisation %"),
        ],
        rows,
        chart=("code", "utilisation"),
    )


REPORTS: dict[str, tuple[str, Callable[..., Report]]] = {
    "throughput": ("Throughput and cycle time", throughput),
    "on-time": ("On-time completion", on_time),
    "quality": ("First-pass yield and scrap", quality),
    "defects": ("Defect Pareto", defect_pareto),
    "utilisation": ("Utilisation", utilisation),
}
