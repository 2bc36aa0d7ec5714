"""Core pages: the site dashboard, the site switcher and the alert inbox."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from tracker import services
from tracker.models import Alert
from tracker.registry import PANELS
from tracker.request_context import require_site
from tracker.selectors import SESSION_SITE_KEY, alert_counts, alerts_open, current_site, site_get


@login_required
@require_safe
def home(request):
    site = current_site(request)
    panels = []
    if site is not None:
        for panel in PANELS:
            if request.user.has_perm(panel.permission):
                panels.append((panel, panel.context(user=request.user, site=site)))
    counts = alert_counts(user=request.user, site=site) if site else {}
    return render(request, "tracker/home.html", {"site": site, "panels": panels, "alert_counts": counts})


@login_required
@require_POST
def switch_site(request):
    site = site_get(user=request.user, code=request.POST.get("site", ""))
    if site is None:
        raise Http404("No such site.")
    request.session[SESSION_SITE_KEY] = site.code
    target = request.POST.get("next") or reverse("tracker:home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("tracker:home")
    return HttpResponseRedirect(target)


@login_required
@require_safe
def alert_inbox(request):
    site = require_site(request)
    alerts = alerts_open(user=request.user, site=site).order_by("acknowledged_at", "-raised_at")
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    template = "tracker/_alert_rows.html" if request.htmx else "tracker/alerts.html"
    return render(request, template, {"site": site, "page": page})


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    alert = get_object_or_404(Alert.objects.restrict(request.user, "change"), pk=pk)
    services.alert_acknowledge(alert=alert, user=request.user)
    if request.htmx:
        return render(request, "tracker/_alert_row.html", {"alert": alert})
    return HttpResponseRedirect(reverse("tracker:alerts"))
