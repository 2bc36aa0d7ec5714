"""The bottlenecks page: utilisation over the current shift (or the last N hours), the
bottleneck and why, the load heatmap for the next 14 days."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from tracker.formatting import format_percent
from tracker.request_context import require_site
from wip import charts, dispatch, selectors
from wip.models import Workstation


@login_required
@require_safe
@permission_required("wip.view_workstation", raise_exception=True)
def bottlenecks(request):
    site = require_site(request)
    now = timezone.now()
    # The current shift by default: what the people on the floor now can act on.
    hours = 0
    try:
        hours = min(max(int(request.GET.get("hours", 0)), 0), 24 * 31)
    except ValueError:
        hours = 0
    if hours:
        start, end = now - dt.timedelta(hours=hours), now
    else:
        start, end = selectors.current_shift(site=site, now=now)
    metrics = None
    load = selectors.load_view(user=request.user, site=site)
    if Workstation.objects.restrict(request.user, "view").filter(site=site).exists():
        metrics = selectors.site_metrics(site=site, start=start, end=end, now=now)
    bars = charts.utilisation_bars([(m.code, m.utilisation) for m in metrics.stations]) if metrics else []
    return render(
        request,
        "wip/bottlenecks.html",
        {
            "site": site,
            "metrics": metrics,
            "hours": hours,
            "bars": bars,
            "bars_height": len(bars) * 26 + 30,
            # The scale under the bars: 320 units stand for 0-120 % (charts.utilisation_bars).
            "axis_y": len(bars) * 26 + 6,
            "ticks": [(round(100 + v / 1.2 * 320, 1), format_percent(v)) for v in (0.0, 0.5, 1.0)],
            "load": load,
            "heatmap": charts.load_heatmap(load["stations"]),
            "rule": dict(dispatch.RULES).get(load.get("rule") or ""),
        },
    )
