"""OEE pages: the station's state panel (stop with a reason, resume, the reason
a device stop needs), and the site's OEE page (stations × shifts, drill-down to
the stops and their Pareto, trends by day and week).

Thin: lookups through ``restrict()`` in the user's current site, writes through
``wip.services.station_*``, figures from ``wip.selectors.oee``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from tracker.errors import DomainError
from tracker.request_context import require_site
from wip import services
from wip.models import ReasonCode, StationState, Workstation
from wip.oee import LOSS_NAMES
from wip.selectors import oee as oee_selectors
from wip.views import _attempt, _back, _station

STATE_CLASS = {
    "running": "ok",
    "idle_starved": "warn",
    "idle_blocked": "warn",
    "changeover": "warn",
    "planned_stop": "info",
    "unplanned_stop": "critical",
    "offline": "critical",
}


#: What changes the state panel: a stop, resume, reason or device signal (``station.state``), and a run
#: starting or ending there (the run-derived state). The page re-fetches the panel on these events of
#: its own station (``data-live-station``, ``static/shopfloor/live.js``).
STATE_EVENTS = "station.state operation.started operation.paused operation.completed"


def _label(state: str) -> str:
    return state.replace("_", " ").replace("idle ", "idle: ").capitalize()


def station_panel(*, user: Any, workstation: Workstation, now: dt.datetime | None = None) -> dict[str, Any]:
    """The station page's state panel: the state now, today's OEE, the open stop,
    the reason pick list and what the user may do. The station's figures are
    the same for everyone (``station_panel_data``: cached per site WIP version);
    only what the user may do is theirs."""
    data = oee_selectors.station_panel_data(workstation=workstation, now=now)
    return {
        "state": data.state,
        "state_label": _label(data.state.state),
        "state_class": STATE_CLASS.get(data.state.state, ""),
        "today": data.today,
        "reasons": data.reasons,
        "can_stop": user.has_perm("wip.add_stationstate"),
        "can_give_reason": user.has_perm("wip.change_stationstate"),
        "live_events": STATE_EVENTS,
    }


@login_required
@require_safe
@permission_required("wip.view_workstation", raise_exception=True)
def station_state(request: HttpRequest, code: str) -> HttpResponse:
    """The station page's state panel alone: what the open page fetches when an event of its
    station arrives, so the state, the open stop and the stop / resume buttons follow it."""
    workstation = _station(request, code)
    panel = station_panel(user=request.user, workstation=workstation)
    return render(
        request, "wip/_station_state.html", {"site": workstation.site, "station": workstation, "panel": panel}
    )


def _reason(request: HttpRequest, site_id: int) -> ReasonCode:
    reason = (
        ReasonCode.objects.restrict(request.user, "view")
        .filter(site_id=site_id, pk=request.POST.get("reason") or 0, active=True)
        .select_related("parent")
        .first()
    )
    if reason is None:
        raise DomainError("Pick a stop reason.", code="validation_failed", field="reason")
    return reason


@login_required
@require_POST
@permission_required("wip.add_stationstate", raise_exception=True)
def station_stop(request: HttpRequest, code: str) -> HttpResponse:
    workstation = _station(request, code)

    def stop() -> None:
        services.station_stop(workstation=workstation, reason=_reason(request, workstation.site_id), actor=request.user)

    _attempt(request, stop, f"{workstation.code} stopped.")
    return _back(request, reverse("wip:station", args=[workstation.code]))


@login_required
@require_POST
@permission_required("wip.add_stationstate", raise_exception=True)
def station_resume(request: HttpRequest, code: str) -> HttpResponse:
    workstation = _station(request, code)
    _attempt(
        request,
        lambda: services.station_resume(workstation=workstation, actor=request.user),
        f"{workstation.code} resumed.",
    )
    return _back(request, reverse("wip:station", args=[workstation.code]))


@login_required
@require_POST
@permission_required("wip.change_stationstate", raise_exception=True)
def state_reason(request: HttpRequest, pk: int) -> HttpResponse:
    site = require_site(request)
    row = get_object_or_404(StationState.objects.restrict(request.user, "change"), pk=pk, site=site)
    _attempt(
        request,
        lambda: services.station_state_reason_set(state=row, reason=_reason(request, row.site_id), actor=request.user),
        "Reason recorded.",
    )
    return _back(request, reverse("wip:oee"))


def _day(request: HttpRequest, today: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return today


@login_required
@require_safe
@permission_required("wip.view_stationstate", raise_exception=True)
def oee_page(request: HttpRequest) -> HttpResponse:
    """Stations × the shifts of one day (default today), each cell A × P × Q =
    OEE; a cell opens its stops; the day's Pareto of stop reasons; the last two
    weeks by day and by week."""
    site = require_site(request)
    zone = ZoneInfo(site.time_zone or "UTC")
    now = timezone.now()
    today = now.astimezone(zone).date()
    day = _day(request, today)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    stations = Workstation.objects.restrict(request.user, "view").filter(site=site, active=True)
    report = oee_selectors.site_oee(
        site=site, start=start, end=start + dt.timedelta(days=1), now=now, stations=stations
    )
    trend_start = dt.datetime.combine(day - dt.timedelta(days=13), dt.time(0), tzinfo=zone)
    trend = oee_selectors.site_oee(
        site=site, start=trend_start, end=start + dt.timedelta(days=1), now=now, stations=stations
    )
    shifts = report.shifts
    table = [(ws, [report.cell(ws, shift) for shift in shifts], figs) for ws, figs in report.by_station()]
    chosen = None
    station_code, shift_key = request.GET.get("station", ""), request.GET.get("shift", "")
    if station_code:
        chosen = next(
            (
                r
                for r in report.rows
                if r.workstation.code == station_code and (not shift_key or r.shift.key == shift_key)
            ),
            None,
        )
    stops = chosen.stops if chosen is not None else report.stops()
    drill = oee_selectors.OeeReport(
        site, start, start, now, report.stations, shifts, [chosen] if chosen else report.rows
    )
    return render(
        request,
        "wip/oee.html",
        {
            "site": site,
            "day": day,
            "previous": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1) if day < today else None,
            "shifts": shifts,
            "table": table,
            "total": report.total(),
            "chosen": chosen,
            "stops": stops,
            "pareto": drill.pareto(),
            "days": trend.by_day(),
            "weeks": trend.by_week(),
            "reasons": oee_selectors.reason_tree(site=site),
            "can_give_reason": request.user.has_perm("wip.change_stationstate"),
            "loss_names": list(LOSS_NAMES.items()),
        },
    )
