"""The planner's page: plan a work order (and release it) without the API.

The form offers only the site's active routings and real locations the
planner may see; ``services.work_order_create`` and ``work_order_release``
keep every rule (routing for the item, BOM, unique number).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tracker.errors import DomainError
from tracker.models import Site
from tracker.request_context import require_site
from wip import services
from wip.forms import WorkOrderForm, planning_locations
from wip.models import Routing, WorkOrder


def next_number(*, site: Site, now: dt.datetime) -> str:
    """``WO-<yymmdd>-<n>``: the next free number of the site's day (one or two queries)."""
    prefix = f"WO-{now.astimezone(ZoneInfo(site.time_zone or 'UTC')):%y%m%d}-"
    taken = set(WorkOrder.objects.filter(number__startswith=prefix).values_list("number", flat=True))
    n = len(taken) + 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@permission_required("wip.add_workorder", raise_exception=True)
def work_order_new(request: HttpRequest) -> HttpResponse:
    site = require_site(request)
    routings = (
        Routing.objects.restrict(request.user, "view")
        .filter(site=site, active=True)
        .select_related("item")
        .order_by("item__sku", "code")
    )
    form = WorkOrderForm(
        request.POST or None, routings=routings, locations=planning_locations(user=request.user, site=site)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        due = data["due_at"]
        if due is not None and timezone.is_naive(due):
            due = due.replace(tzinfo=ZoneInfo(site.time_zone or "UTC"))
        number = data["number"].strip() or next_number(site=site, now=timezone.now())
        release = data["release"] and request.user.has_perm("wip.change_workorder")
        try:
            with transaction.atomic():
                wo = services.work_order_create(
                    site=site,
                    number=number,
                    item=data["routing"].item,
                    quantity=data["quantity"],
                    routing=data["routing"],
                    due_at=due,
                    priority=data["priority"],
                    issue_location=data["issue_location"],
                    output_location=data["output_location"],
                    actor=request.user,
                )
                if release:
                    services.work_order_release(work_order=wo, actor=request.user)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, f"{number} planned{' and released' if release else ''}.")
            return HttpResponseRedirect(reverse("wip:work_order", args=[number]))
    return render(request, "wip/work_order_new.html", {"site": site, "form": form})
