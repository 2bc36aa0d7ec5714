"""The quality inspector's excursion pages: excursions per site, one excursion's held
lots and serials with its temperature curve, and the release / scrap decision."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from devices.excursions import selectors, services
from devices.models import ExcursionEntry
from tracker.errors import DomainError
from tracker.request_context import require_site

#: Deciding on held stock is the lot-status decision (quality inspectors and managers hold it).
DECIDE_PERMISSION = "inventory.change_lot"


@login_required
@require_safe
@permission_required("devices.view_excursion", raise_exception=True)
def excursion_list(request):
    site = require_site(request)
    rows = selectors.excursions_for_user(user=request.user, site=site)[:200]
    return render(request, "devices/excursions/list.html", {"site": site, "excursions": rows})


def _excursion(request, pk: int):
    site = require_site(request)
    excursion = selectors.excursion_for_user(user=request.user, pk=pk)
    if excursion is None or excursion.site_id != site.pk:
        raise Http404("No such excursion.")
    return site, excursion


@login_required
@require_safe
@permission_required("devices.view_excursion", raise_exception=True)
def excursion_detail(request, pk: int):
    site, excursion = _excursion(request, pk)
    entries = selectors.excursion_entries(excursion)
    context = {
        "site": site,
        "excursion": excursion,
        "held": [e for e in entries if e.kind == ExcursionEntry.Kind.HELD],
        "left": [e for e in entries if e.kind == ExcursionEntry.Kind.LEFT],
        "curve": selectors.excursion_curve(excursion),
        "can_decide": request.user.has_perm(DECIDE_PERMISSION),
    }
    return render(request, "devices/excursions/detail.html", context)


@login_required
@require_POST
@permission_required(DECIDE_PERMISSION, raise_exception=True)
def excursion_decide(request, pk: int):
    _, excursion = _excursion(request, pk)
    ids = [int(v) for v in request.POST.getlist("entry") if v.isdigit()]
    entries = list(ExcursionEntry.objects.restrict(request.user, "view").filter(excursion=excursion, pk__in=ids))
    try:
        decided = services.excursion_decide(
            excursion=excursion,
            entries=entries,
            decision=request.POST.get("decision", ""),
            actor=request.user,
            note=request.POST.get("note", "")[:500],
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        word = "released" if request.POST.get("decision") == services.RELEASE else "scrapped"
        messages.success(request, f"{len(decided)} {word}.")
    return HttpResponseRedirect(reverse("devices:excursion", args=[excursion.pk]))
