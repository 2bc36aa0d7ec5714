"""WIP pages: thin views over selectors and services, for phones and tablets.

Every page works in the user's current site (``tracker.selectors.current_site``)
and looks objects up through ``restrict()``, so another site's station or
order is a 404. Writes are POSTs that call one service and redirect back (or
re-render the partial for htmx); a domain error becomes a message.
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from tracker.errors import DomainError
from tracker.request_context import require_site
from wip import charts, dispatch, plan_cache, selectors, services
from wip.models import (
    ACTIVE_RUN_STATUSES,
    Defect,
    Disposition,
    Hold,
    OperationRun,
    RunStatus,
    WorkOrder,
    WorkOrderStatus,
    Workstation,
    WorkstationGroup,
)
from wip.scanning import work_order_from_scan

LIVE_EVENTS = (
    "workorder.moved operation.started operation.completed operation.paused workorder.released "
    "workorder.completed workorder.held workorder.hold_released workorder.cancelled"
)


def _station(request, code: str, action: str = "view") -> Workstation:
    site = require_site(request)
    return get_object_or_404(
        Workstation.objects.restrict(request.user, action).select_related("site", "location", "group"),
        code=code,
        site=site,
    )


def _run(request, pk: int, action: str = "change") -> OperationRun:
    site = require_site(request)
    return get_object_or_404(
        OperationRun.objects.restrict(request.user, action).select_related("work_order", "operation", "workstation"),
        pk=pk,
        site=site,
    )


def _back(request, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or fallback
    if not target.startswith("/") or target.startswith("//"):
        target = fallback
    return HttpResponseRedirect(target)


def _decimal(value, field: str) -> Decimal:
    try:
        return Decimal(str(value).strip() or "0")
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(f"{field}: {value!r} is not a number.", code="validation_failed", field=field) from exc


def _attempt(request, fn, success: str) -> bool:
    try:
        fn()
    except DomainError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


# --- the supervisor's WIP board -------------------------------------------------


@login_required
@require_safe
@permission_required("wip.view_workorder", raise_exception=True)
def board(request):
    site = require_site(request)
    groups = list(WorkstationGroup.objects.restrict(request.user, "view").filter(site=site).order_by("code"))
    group = next((g for g in groups if g.code == request.GET.get("group")), None)
    show = request.GET.get("show", "")
    show = show if show in dict(selectors.BOARD_SHOW) else ""
    context = {"site": site, "live_events": LIVE_EVENTS, "now": timezone.now()}
    context |= {"groups": groups, "group": group, "show": show, "shows": selectors.BOARD_SHOW}
    context["query"] = request.GET.urlencode()
    fragment = _board_fragment(request, site, group, show, context)
    if request.htmx:
        return HttpResponse(fragment)
    return render(request, "wip/board.html", context | {"board_html": fragment})


def _board_fragment(request, site, group, show: str, context: dict) -> str:
    """The board's columns as HTML, cached per (site, plan version, filters) for everyone who may
    see the site's board: they hold nothing of the user's own, and the plan's version moves with
    every WIP change (and the plan itself lives ``PLAN_TTL`` s, so the fragment's time bucket does)."""
    if not selectors.board_visible(user=request.user, site=site):
        return render_to_string("wip/_board.html", context | {"columns": []}, request=request)
    version = plan_cache.current_version(site.pk)
    key = None
    if version is not None:
        bucket = int(time.time() // plan_cache.PLAN_TTL)
        digest = hashlib.sha256(context["query"].encode()).hexdigest()[:16]
        key = f"wip:board:html:{site.pk}:{version}:{bucket}:{group.pk if group else ''}:{show}:{digest}"
        cached = cache.get(key)
        if cached is not None:
            return mark_safe(cached)  # noqa: S308 - our own rendered template
    columns = selectors.wip_board(
        user=request.user, site=site, group=group.pk if group else None, show=show, visible=True
    )
    html = render_to_string("wip/_board.html", context | {"columns": columns}, request=request)
    if key is not None:
        cache.set(key, str(html), timeout=plan_cache.PLAN_TTL)
    return mark_safe(html)  # noqa: S308 - our own rendered template


# --- stations and the operator's station page ----------------------------------------


@login_required
@require_safe
@permission_required("wip.view_workstation", raise_exception=True)
def stations(request):
    site = require_site(request)
    rows = (
        selectors.workstations_for_user(user=request.user, site=site)
        .annotate(
            queue_length=Count("runs", filter=Q(runs__status=RunStatus.QUEUED)),
            wip=Count("runs", filter=Q(runs__status__in=ACTIVE_RUN_STATUSES)),
            running=Count("runs", filter=Q(runs__status=RunStatus.RUNNING)),
        )
        .order_by("code")
    )
    return render(request, "wip/stations.html", {"site": site, "stations": rows, "live_events": LIVE_EVENTS})


@login_required
@require_safe
@permission_required("wip.view_workstation", raise_exception=True)
def station(request, code: str):
    workstation = _station(request, code)
    # _station looked it up through restrict(user, "view"), with its site.
    rows = selectors.dispatch_list(user=request.user, workstation=workstation, visible=True)
    can_work = request.user.has_perm("wip.change_operationrun")
    # Start is offered only while the station has a free place (operation_start refuses otherwise).
    running = sum(1 for row in rows if row.run.status == RunStatus.RUNNING)
    context = {
        "site": workstation.site,
        "station": workstation,
        "rows": rows,
        "can_work": can_work,
        "running": running,
        "at_capacity": running >= workstation.capacity,
        "can_record_defect": request.user.has_perm("wip.add_defect"),
        "can_dispose": request.user.has_perm("wip.change_defect"),
        "defect_codes": selectors.defect_codes(site=workstation.site),
        "rule": dict(dispatch.RULES).get(selectors.dispatch_rule(workstation.site)),
        "live_events": LIVE_EVENTS,
    }
    if not request.htmx:
        from wip.views_oee import station_panel  # views_oee builds on this module's helpers

        context["panel"] = station_panel(user=request.user, workstation=workstation)
    template = "wip/_station_queue.html" if request.htmx else "wip/station.html"
    return render(request, template, context)


@login_required
@require_POST
@permission_required("wip.change_operationrun", raise_exception=True)
def station_scan(request, code: str):
    """A traveler or a tote scanned (or a number typed) at the station: the order arrives here."""
    workstation = _station(request, code)
    scanned = (request.POST.get("traveler") or "").strip()
    work_order = work_order_from_scan(user=request.user, site=workstation.site, text=scanned)
    if work_order is None:
        messages.error(request, f"No work order {scanned!r} at this site.")
    else:
        number = work_order.number

        def arrive():
            result = services.operation_arrive(
                workstation=workstation, work_order=work_order, actor=request.user, strict=True
            )
            if not result.changed:
                raise DomainError(f"{number} is already here.", code="already_here")

        _attempt(request, arrive, f"{number} arrived at {workstation.code}.")
    return HttpResponseRedirect(reverse("wip:station", args=[workstation.code]))


@login_required
@require_POST
@permission_required("wip.change_operationrun", raise_exception=True)
def run_action(request, pk: int, verb: str):
    run = _run(request, pk)
    fallback = (
        reverse("wip:station", args=[run.workstation.code]) if run.workstation is not None else reverse("wip:board")
    )
    station = None
    if request.POST.get("workstation"):
        station = _station(request, request.POST["workstation"])
    number = run.work_order.number
    if verb == "start":
        _attempt(
            request,
            lambda: services.operation_start(run=run, operator=request.user, workstation=station),
            f"Started {number} step {run.sequence}.",
        )
    elif verb == "pause":
        _attempt(request, lambda: services.operation_pause(run=run, actor=request.user), f"Paused {number}.")
    elif verb == "resume":
        _attempt(request, lambda: services.operation_resume(run=run, operator=request.user), f"Resumed {number}.")
    elif verb == "complete":

        def complete():
            remaining = run.quantity - run.scrap_quantity
            good = _decimal(request.POST.get("good_quantity", remaining), "good_quantity")
            scrap = _decimal(request.POST.get("scrap_quantity", "0"), "scrap_quantity")
            services.operation_complete(
                run=run,
                good_quantity=good,
                scrap_quantity=scrap,
                scrap_code=request.POST.get("scrap_code") or "SCRAP",
                actor=request.user,
            )

        _attempt(request, complete, f"Completed {number} step {run.sequence}.")
    else:
        raise Http404("No such action.")
    return _back(request, fallback)


@login_required
@require_POST
@permission_required("wip.add_defect", raise_exception=True)
def run_defect(request, pk: int):
    run = _run(request, pk, "view")
    fallback = (
        reverse("wip:station", args=[run.workstation.code]) if run.workstation is not None else reverse("wip:quality")
    )

    def record():
        rework_to = request.POST.get("rework_to_sequence", "")
        services.defect_record(
            run=run,
            code=request.POST.get("code", ""),
            quantity=_decimal(request.POST.get("quantity", ""), "quantity"),
            disposition=request.POST.get("disposition", ""),
            description=request.POST.get("description", ""),
            rework_to_sequence=int(rework_to) if rework_to.isdigit() else None,
            actor=request.user,
        )

    _attempt(request, record, f"Defect recorded on {run.work_order.number}.")
    return _back(request, fallback)


# --- work orders ----------------------------------------------------------------------


@login_required
@require_safe
@permission_required("wip.view_workorder", raise_exception=True)
def work_orders(request):
    site = require_site(request)
    status = request.GET.get("status", "open")
    qs = selectors.work_orders_for_user(user=request.user, site=site)
    if status == "open":
        qs = qs.filter(
            status__in=(
                WorkOrderStatus.PLANNED,
                WorkOrderStatus.RELEASED,
                WorkOrderStatus.IN_PROGRESS,
                WorkOrderStatus.ON_HOLD,
            )
        )
    elif status in WorkOrderStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("due_at", "number"), 50).get_page(request.GET.get("page"))
    plan = selectors.site_schedule(site=site)
    rows = [(wo, plan.orders.get(wo.number)) for wo in page]
    return render(
        request,
        "wip/work_orders.html",
        {
            "site": site,
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": WorkOrderStatus.choices,
        },
    )


@login_required
@require_safe
@permission_required("wip.view_workorder", raise_exception=True)
def work_order(request, number: str):
    site = require_site(request)
    wo = get_object_or_404(selectors.work_orders_for_user(user=request.user, site=site), number=number)
    now = timezone.now()
    steps, estimate = selectors.work_order_timeline(work_order=wo, now=now)
    defects = Defect.objects.restrict(request.user, "view").filter(work_order=wo).select_related("run", "workstation")
    holds = Hold.objects.restrict(request.user, "view").filter(work_order=wo).select_related("placed_by", "released_by")
    return render(
        request,
        "wip/work_order.html",
        {
            "site": site,
            "wo": wo,
            "steps": steps,
            "estimate": estimate,
            "gantt": charts.gantt(steps, now=now),
            "defects": defects.order_by("-reported_at"),
            "holds": holds.order_by("-placed_at"),
            "live_events": LIVE_EVENTS,
            "can_change": request.user.has_perm("wip.change_workorder"),
            "can_hold": request.user.has_perm("wip.add_hold"),
            "can_inspect": request.user.has_perm("wip.add_inspection"),
        },
    )


@login_required
@require_POST
def work_order_action(request, number: str, verb: str):
    site = require_site(request)
    needed = {
        "release": "wip.change_workorder",
        "complete": "wip.change_workorder",
        "cancel": "wip.change_workorder",
        "hold": "wip.add_hold",
        "release-hold": "wip.change_hold",
    }
    if verb not in needed:
        raise Http404("No such action.")
    if not request.user.has_perm(needed[verb]):
        raise Http404("No such work order.")
    wo = get_object_or_404(WorkOrder.objects.restrict(request.user, "view"), number=number, site=site)
    reason = request.POST.get("reason", "")
    if verb == "release":
        _attempt(request, lambda: services.work_order_release(work_order=wo, actor=request.user), f"{number} released.")
    elif verb == "complete":
        _attempt(
            request, lambda: services.work_order_complete(work_order=wo, actor=request.user), f"{number} completed."
        )
    elif verb == "cancel" and not (reason.strip() and request.POST.get("confirm")):
        messages.error(request, f"{number} not cancelled: give a reason and tick the confirmation.")
    elif verb == "cancel":
        _attempt(
            request,
            lambda: services.work_order_cancel(work_order=wo, reason=reason, actor=request.user),
            f"{number} cancelled.",
        )
    elif verb == "hold":
        _attempt(
            request, lambda: services.hold_place(work_order=wo, reason=reason, actor=request.user), f"{number} on hold."
        )
    else:

        def release_all():
            holds = list(Hold.objects.restrict(request.user, "change").filter(work_order=wo, released_at__isnull=True))
            if not holds:
                raise DomainError("No open hold.", code="not_found")
            for hold in holds:
                services.hold_release(hold=hold, actor=request.user, note=reason)

        _attempt(request, release_all, f"Holds on {number} released.")
    return _back(request, reverse("wip:work_order", args=[number]))


# --- bottlenecks and load ----------------------------------------------------------------


# --- quality -------------------------------------------------------------------------------


@login_required
@require_safe
@permission_required("wip.view_defect", raise_exception=True)
def quality(request):
    site = require_site(request)
    return render(
        request,
        "wip/quality.html",
        {
            "site": site,
            "defects": selectors.open_defects(user=request.user, site=site)[:200],
            "pending": selectors.pending_inspections(user=request.user, site=site)[:200],
            "can_inspect": request.user.has_perm("wip.add_inspection"),
            "inspections": selectors.recent_inspections(user=request.user, site=site).prefetch_related(
                "results__check_item"
            )[:50],
            "holds": selectors.open_holds(user=request.user, site=site)[:200],
            "dispositions": [c for c in Disposition.choices if c[0]],
            "can_dispose": request.user.has_perm("wip.change_defect"),
            "can_release_hold": request.user.has_perm("wip.change_hold"),
        },
    )


@login_required
@require_POST
@permission_required("wip.change_defect", raise_exception=True)
def defect_dispose(request, pk: int):
    site = require_site(request)
    defect = get_object_or_404(Defect.objects.restrict(request.user, "change"), pk=pk, site=site)
    rework_to = request.POST.get("rework_to_sequence", "")
    _attempt(
        request,
        lambda: services.defect_dispose(
            defect=defect,
            disposition=request.POST.get("disposition", ""),
            actor=request.user,
            rework_to_sequence=int(rework_to) if rework_to.isdigit() else None,
        ),
        f"Defect {defect.code} decided.",
    )
    return _back(request, reverse("wip:quality"))


@login_required
@require_POST
@permission_required("wip.change_hold", raise_exception=True)
def hold_release(request, pk: int):
    site = require_site(request)
    hold = get_object_or_404(Hold.objects.restrict(request.user, "change"), pk=pk, site=site)
    _attempt(
        request,
        lambda: services.hold_release(hold=hold, actor=request.user, note=request.POST.get("note", "")),
        "Hold released.",
    )
    return _back(request, reverse("wip:quality"))


# --- the dashboard panel ---------------------------------------------------------------------


def dashboard_panel(*, user, site) -> dict:
    """Counts for the home page (two queries)."""
    orders = (
        WorkOrder.objects.restrict(user, "view")
        .filter(site=site)
        .aggregate(
            open=Count("pk", filter=Q(status__in=(WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS))),
            held=Count("pk", filter=Q(status=WorkOrderStatus.ON_HOLD)),
            planned=Count("pk", filter=Q(status=WorkOrderStatus.PLANNED)),
        )
    )
    runs = (
        OperationRun.objects.restrict(user, "view")
        .filter(site=site)
        .aggregate(
            queued=Count("pk", filter=Q(status=RunStatus.QUEUED), distinct=True),
            running=Count("pk", filter=Q(status=RunStatus.RUNNING), distinct=True),
            open_defects=Count("defects", filter=Q(defects__disposition=Disposition.OPEN)),
        )
    )
    return {**orders, **runs}
