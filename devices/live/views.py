"""Live pages: the asset finder ("where is it?") and the plant dashboard.

They live in ``devices`` (not ``tracker``) because they read what devices,
wip and inventory know, and tracker never imports upward. Both re-render their
one partial when a matching event arrives on the site's websocket (``data-live``
and ``static/shopfloor/live.js``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from devices.live import selectors as live_selectors
from tracker.request_context import require_site

FINDER_EVENTS = "tag.seen workorder.moved workorder.released workorder.completed operation.started operation.completed stock.changed"
PLANT_EVENTS = (
    "workorder.moved workorder.released workorder.completed workorder.cancelled operation.started operation.completed "
    "alert.raised alert.cleared alert.acknowledged stock.changed tag.seen"
)


@login_required
@require_safe
def finder(request):
    site = require_site(request)
    query = request.GET.get("q", "").strip()[:200]
    results = live_selectors.find(user=request.user, site=site, query=query) if query else []
    context = {"site": site, "q": query, "results": results, "live_events": FINDER_EVENTS}
    template = "devices/live/_finder_results.html" if request.htmx else "devices/live/finder.html"
    return render(request, template, context)


def _bars(rows, *, width: float = 560, row_height: float = 24, label_w: float = 80) -> dict:
    """Horizontal stacked bars (running, queued) per station, scaled to the longest."""
    longest = max([r.running + r.queued for r in rows] + [1])
    scale = (width - label_w - 40) / longest
    out = []
    for i, r in enumerate(rows):
        y = i * row_height
        run_w = r.running * scale
        out.append(
            {
                "row": r,
                "y": y,
                "text_y": y + row_height * 0.65,
                "label_w": label_w,
                "run_w": round(run_w, 1),
                "queue_x": round(label_w + run_w, 1),
                "queue_w": round(r.queued * scale, 1),
                "total_x": round(label_w + run_w + r.queued * scale + 6, 1),
                "h": row_height - 6,
            }
        )
    return {"bars": out, "width": width, "height": max(len(rows), 1) * row_height}


def _sparkline(
    series,
    *,
    width: float = 360,
    height: float = 110,
    threshold: float | None = 8.0,
    left: float = 46,
    bottom: float = 30,
    top: float = 8,
    right: float = 8,
) -> dict | None:
    """The temperature line with its axes: °C ticks on the left (low, threshold, high), the first and last
    sample's times along the bottom, each axis titled. The plot sits inside the margins."""
    if len(series) < 2:
        return None
    values = [float(v) for _, v in series]
    lo = min(values + ([threshold] if threshold is not None else [])) - 0.5
    hi = max(values + ([threshold] if threshold is not None else [])) + 0.5
    t0, t1 = series[0][0].timestamp(), series[-1][0].timestamp()
    span = max(t1 - t0, 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return round(top + plot_h - (v - lo) / (hi - lo) * plot_h, 1)

    points = " ".join(f"{round(left + (at.timestamp() - t0) / span * plot_w, 1)},{y(float(v))}" for at, v in series)
    ticks = sorted({round(min(values), 1), round(max(values), 1), *([threshold] if threshold is not None else [])})
    # Ticks closer than 10 units would print over each other: keep the first of such a pair.
    y_ticks: list[tuple[float, str]] = []
    for value in ticks:
        if all(abs(y(value) - other) >= 10 for other, _ in y_ticks):
            y_ticks.append((y(value), f"{value:.1f}"))
    return {
        "points": points,
        "width": width,
        "height": height,
        "left": left,
        "right_x": width - right,
        "top": top,
        "axis_y": top + plot_h,
        "y_ticks": [(pos, pos + 4, label) for pos, label in y_ticks],
        "tick_x": left - 4,
        "x_label_y": top + plot_h + 13,
        "x_title_y": height - 2,
        "x_title_x": left + plot_w / 2,
        "first_at": series[0][0],
        "last_at": series[-1][0],
        "threshold_y": y(threshold) if threshold else None,
        "last": values[-1],
        "low": min(values),
        "high": max(values),
        "over": values[-1] > (threshold or 1e9),
    }


@login_required
@require_safe
def plant(request):
    site = require_site(request)
    data = live_selectors.dashboard(user=request.user, site=site)
    context = {
        "site": site,
        "d": data,
        "live_events": PLANT_EVENTS,
        "bars": _bars(data.stations),
        "spark": _sparkline(data.temperature),
    }
    template = "devices/live/_plant.html" if request.htmx else "devices/live/plant.html"
    return render(request, template, context)
