"""Reads for the excursion pages: the list per site, one excursion with its entries, and
its temperature curve as a server-rendered SVG (axes, units, thresholds; no script)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from devices.models import Excursion, ExcursionEntry, SensorSample
from tracker.models import Site

#: Samples drawn at most (a long excursion is thinned evenly, keeping the extremes' shape).
MAX_POINTS = 600
#: Context before the breach and after it cleared.
MARGIN = dt.timedelta(minutes=30)


def excursions_for_user(*, user: Any, site: Site) -> QuerySet[Excursion]:
    """The site's excursions the user may see, newest first, with their counts (one query)."""
    return (
        Excursion.objects.restrict(user, "view")
        .filter(site=site)
        .select_related("rule", "location", "alert")
        .annotate(
            held=Count("entries", filter=Q(entries__kind=ExcursionEntry.Kind.HELD)),
            pending=Count("entries", filter=Q(entries__kind=ExcursionEntry.Kind.HELD, entries__decision="")),
            left=Count("entries", filter=Q(entries__kind=ExcursionEntry.Kind.LEFT)),
        )
        .order_by("-started_at", "-pk")
    )


def excursion_for_user(*, user: Any, pk: int) -> Excursion | None:
    return (
        Excursion.objects.restrict(user, "view")
        .select_related("rule", "location", "alert", "site")
        .filter(pk=pk)
        .first()
    )


def excursion_entries(excursion: Excursion) -> list[ExcursionEntry]:
    return list(
        excursion.entries.select_related("item", "lot", "serial", "location", "decided_by").order_by(
            "kind", "item__sku", "lot__code", "serial__serial", "pk"
        )
    )


@dataclass
class Curve:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    unit: str
    metric: str
    lines: list[dict[str, Any]]  # one polyline per sensor: {"sensor", "points", "css"}
    y_ticks: list[dict[str, Any]]  # {"y", "label"}
    x_ticks: list[dict[str, Any]]  # {"x", "label" (a datetime)}
    thresholds: list[dict[str, Any]]  # {"y", "label", "css"}
    start_x: float | None
    clear_x: float | None
    samples: int


def excursion_curve(excursion: Excursion, *, width: int = 720, height: int = 260) -> Curve | None:
    """The metric's samples in the excursion's zone from before the breach to after it
    cleared (or now), per sensor, scaled into an SVG box with ticks in the site's zone."""
    end = excursion.alert.cleared_at or timezone.now()
    start, finish = excursion.started_at - MARGIN, end + MARGIN
    rows = list(
        SensorSample.objects.filter(
            site_id=excursion.site_id,
            metric=excursion.metric,
            location__path__startswith=excursion.location.path,
            observed_at__gte=start,
            observed_at__lte=finish,
        )
        .order_by("observed_at", "pk")
        .values_list("sensor_id", "observed_at", "value", "unit")[: MAX_POINTS * 10]
    )
    if not rows:
        return None
    if len(rows) > MAX_POINTS:
        step = len(rows) / MAX_POINTS
        rows = [rows[int(i * step)] for i in range(MAX_POINTS)]
    rule = excursion.rule
    values = [float(v) for _, _, v, _ in rows] + [float(rule.create_threshold), float(rule.clear_threshold)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or 1.0
    low, high = low - pad, high + pad
    left, right, top, bottom = 56, width - 16, 16, height - 40
    t0, t1 = rows[0][1], max(rows[-1][1], min(end, rows[-1][1] + MARGIN))
    span = (t1 - t0).total_seconds() or 1.0

    def x(at: dt.datetime) -> float:
        return round(left + (at - t0).total_seconds() / span * (right - left), 1)

    def y(value: float) -> float:
        return round(bottom - (value - low) / (high - low) * (bottom - top), 1)

    per_sensor: dict[str, list[str]] = {}
    for sensor, at, value, _ in rows:
        per_sensor.setdefault(sensor, []).append(f"{x(at)},{y(float(value))}")
    unit = next((u for *_, u in rows if u), "")
    lines = [
        {"sensor": sensor, "points": " ".join(points), "css": f"series-{i % 4}"}
        for i, (sensor, points) in enumerate(sorted(per_sensor.items()))
    ]
    y_ticks = [{"y": y(low + (high - low) * i / 4), "label": _number(low + (high - low) * i / 4)} for i in range(5)]
    x_ticks = [{"x": x(t0 + (t1 - t0) * i / 4), "label": t0 + (t1 - t0) * i / 4} for i in range(5)]
    word = "above" if rule.direction == "above" else "below"
    thresholds = [
        {
            "y": y(float(rule.create_threshold)),
            "label": f"alert {word} {_number(rule.create_threshold)}",
            "css": "limit",
        },
        {"y": y(float(rule.clear_threshold)), "label": f"clear {_number(rule.clear_threshold)}", "css": "clear"},
    ]

    def within(at: dt.datetime | None) -> float | None:
        return x(at) if at is not None and t0 <= at <= t1 else None

    return Curve(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        unit=unit,
        metric=excursion.metric,
        lines=lines,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        thresholds=thresholds,
        start_x=within(excursion.started_at),
        clear_x=within(excursion.alert.cleared_at),
        samples=len(rows),
    )


def _number(value: float | Decimal) -> str:
    return f"{float(value):.1f}"
