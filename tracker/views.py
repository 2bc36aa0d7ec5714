"""Core pages: the site dashboard, the site switcher and the alert inbox."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from tracker import search as site_search
from tracker import services
from tracker.alert_kinds import kind_names
from tracker.models import Alert, Severity
from tracker.registry import PANELS
from tracker.request_context import require_site
from tracker.selectors import SESSION_SITE_KEY, alert_counts, current_site, site_get


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
def search(request):
    """The header's search box: hits grouped by kind, from the user's sites only (``tracker.search``).

    One exact hit (its code typed in full) at the current site, or on a page that does not depend on the
    site, opens directly unless ``all=1`` asks for the list; a hit at another of the user's sites is
    offered with a button that switches to that site first.
    """
    site = current_site(request)
    query = site_search.normalise(request.GET.get("q"))
    groups = site_search.search(user=request.user, query=query)
    exact = site_search.exact_hit(groups, query)
    here = site.code if site is not None else None
    if exact is not None and request.GET.get("all") != "1" and exact.site_code in ("", here):
        return HttpResponseRedirect(exact.url)
    context = {
        "q": query,
        "search_query": query,
        "groups": groups,
        "here": here,
        "too_short": 0 < len(query) < site_search.MIN_LENGTH,
        "min_length": site_search.MIN_LENGTH,
        "total": sum(len(g.hits) for g in groups),
    }
    return render(request, "tracker/search.html", context)


ALERT_STATES = (("open", "Open"), ("cleared", "Cleared (history)"), ("all", "All"))


@login_required
@require_safe
def alert_inbox(request):
    """Open alerts (unacknowledged first), or the history of cleared ones; by kind and severity."""
    site = require_site(request)
    state = request.GET.get("state", "open")
    state = state if state in dict(ALERT_STATES) else "open"
    kind, severity = request.GET.get("kind", ""), request.GET.get("severity", "")
    visible = Alert.objects.restrict(request.user, "view").filter(site=site)
    alerts = visible.select_related("acknowledged_by")
    if state == "open":
        alerts = alerts.filter(cleared_at__isnull=True).order_by("acknowledged_at", "-raised_at")
    else:
        alerts = (alerts.filter(cleared_at__isnull=False) if state == "cleared" else alerts).order_by("-raised_at")
    if kind:
        alerts = alerts.filter(kind=kind)
    if severity in Severity.values:
        alerts = alerts.filter(severity=severity)
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    kinds = list(visible.order_by("kind").values_list("kind", flat=True).distinct()[:200])
    names = kind_names([*kinds, *(a.kind for a in page)])
    for alert in page:
        alert.kind_name = names.get(alert.kind, alert.kind)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "site": site,
        "page": page,
        "state": state,
        "states": ALERT_STATES,
        "kind": kind,
        "kinds": [(k, names[k]) for k in kinds],
        "severity": severity,
        "severities": Severity.choices,
        "query": query.urlencode(),
    }
    template = "tracker/_alert_rows.html" if request.htmx else "tracker/alerts.html"
    return render(request, template, context)


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    alert = get_object_or_404(Alert.objects.restrict(request.user, "change"), pk=pk)
    services.alert_acknowledge(alert=alert, user=request.user)
    if request.htmx:
        alert.kind_name = kind_names([alert.kind])[alert.kind]
        return render(request, "tracker/_alert_row.html", {"alert": alert})
    return HttpResponseRedirect(reverse("tracker:alerts"))
