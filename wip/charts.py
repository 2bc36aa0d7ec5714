"""Geometry for the server-rendered SVG charts (no JS, no CDN): the templates
draw what these functions compute, so the numbers are testable here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tracker.formatting import format_hours, format_percent


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..1 (or more when overloaded)
    width: float
    y: float
    css: str
    text: str


def utilisation_bars(rows: list[tuple[str, float | None]], *, width: float = 320, row_height: float = 26) -> list[Bar]:
    """Horizontal bars: utilisation of each station (over 85 % is a warning, over 100 % bad)."""
    bars = []
    for index, (label, value) in enumerate(rows):
        v = value or 0.0
        css = "bad" if v > 1.0 else ("warn" if v > 0.85 else "ok")
        bars.append(
            Bar(
                label=label,
                value=v,
                width=round(min(v, 1.2) / 1.2 * width, 1),
                y=index * row_height,
                css=css,
                text=format_percent(value),
            )
        )
    return bars


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    css: str
    title: str
    text: str


def load_heatmap(stations, *, cell_w: float = 44, cell_h: float = 26, label_w: float = 110, top: float = 20) -> dict:
    """Stations × days: each cell coloured by required/available hours, with its axes named: stations
    down the left, days along the bottom, the unit (hours required / available) over the cells."""
    cells, labels, days = [], [], []
    for row, station in enumerate(stations):
        labels.append((station.workstation.code, top + row * cell_h + cell_h * 0.65, station.state))
        for col, day in enumerate(station.days):
            ratio = day.ratio
            if day.available_hours <= 0 and day.required_hours <= 0:
                css = "off"
            elif day.state == "overloaded":
                css = "bad"
            elif day.state == "idle":
                css = "idle"
            elif ratio is not None and ratio > 0.85:
                css = "warn"
            else:
                css = "ok"
            cells.append(
                Cell(
                    x=label_w + col * cell_w,
                    y=top + row * cell_h,
                    css=css,
                    title=day_title(station.workstation.code, day),
                    text=f"{day.required_hours:.0f}/{day.available_hours:.0f}",
                )
            )
    if stations:
        days = [(label_w + col * cell_w + cell_w / 2, f"{d.day:%a %d}") for col, d in enumerate(stations[0].days)]
    return {
        "cells": cells,
        "labels": labels,
        "days": days,
        "cell_w": cell_w - 2,
        "cell_h": cell_h - 2,
        "width": label_w + cell_w * (len(days) or 1),
        "height": top + cell_h * max(len(stations), 1) + 38,
        "label_w": label_w,
        "day_y": top + cell_h * len(stations) + 14,
        # Axis titles: the rows, the cells' unit, the columns.
        "title_y": top - 7,
        "x_title_x": label_w + cell_w * (len(days) or 1) / 2,
        "x_title_y": top + cell_h * max(len(stations), 1) + 32,
    }


@dataclass(frozen=True)
class GanttRow:
    label: str
    y: float
    planned: tuple[float, float] | None
    actual: tuple[float, float] | None
    css: str


def gantt(steps, *, now: dt.datetime, width: float = 640, row_height: float = 30, label_w: float = 150) -> dict:
    """Planned against actual per step: planned is the schedule for open steps, or
    start + standard minutes for started ones; actual is started → finished (or now)."""
    spans = []
    for st in steps:
        run = st.run
        planned = None
        if st.planned_start and st.planned_end:
            planned = (st.planned_start, st.planned_end)
        elif run.started_at:
            planned = (run.started_at, run.started_at + dt.timedelta(minutes=st.planned_minutes))
        actual = None
        if run.started_at:
            actual = (run.started_at, run.finished_at or now)
        spans.append((st, planned, actual))
    moments = [t for _, p, a in spans for pair in (p, a) if pair for t in pair]
    if not moments:
        return {"rows": [], "width": width, "height": 0, "label_w": label_w, "ticks": []}
    lo, hi = min(moments), max(moments)
    total = max((hi - lo).total_seconds(), 60.0)
    scale = (width - label_w - 10) / total

    def x(moment: dt.datetime) -> float:
        return round(label_w + (moment - lo).total_seconds() * scale, 1)

    rows = []
    for index, (st, planned, actual) in enumerate(spans):
        run = st.run
        css = {"done": "ok", "failed": "bad", "running": "warn", "paused": "warn"}.get(run.status, "idle")
        rows.append(
            GanttRow(
                label=f"{run.sequence} {run.operation.name}" + (f" (rework {run.attempt})" if run.attempt > 1 else ""),
                y=index * row_height,
                planned=(x(planned[0]), max(x(planned[1]) - x(planned[0]), 2)) if planned else None,
                actual=(x(actual[0]), max(x(actual[1]) - x(actual[0]), 2)) if actual else None,
                css=css,
            )
        )
    ticks = [(x(lo), lo), (x(hi), hi)]
    return {
        "rows": rows,
        "width": width,
        "height": row_height * len(rows) + 24,
        "label_w": label_w,
        "ticks": ticks,
        "tick_y": row_height * len(rows) + 16,
    }


def day_title(code: str, day: Any) -> str:
    """A heatmap cell's tooltip: the day's required against its available hours, in words
    where one of them is nothing (an idle day read "0.0 h required of 0.0 h available")."""
    when = f"{code} {day.day:%a %d %b}"
    required, available = day.required_hours or 0, day.available_hours or 0
    if not available:
        return f"{when}: no working time" + (f", {format_hours(required)} of work due" if required else "")
    if not required:
        return f"{when}: nothing planned, {format_hours(available)} available"
    return f"{when}: {format_hours(required)} required of {format_hours(available)} available"
