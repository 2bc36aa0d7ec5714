"""WIP report pages, exports and API (the rendering is shared with inventory's reports)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from inventory.analytics.views import ReportAPIView as _InventoryReportAPIView
from inventory.analytics.views import render_report
from tracker.selectors import current_site
from wip.analytics import reports as analytics
from wip.models import WorkOrder


@login_required
@require_GET
@permission_required("wip.view_workorder", raise_exception=True)
def index(request):
    return HttpResponseRedirect(reverse("wip:analytics_report", args=["throughput"]))


@login_required
@require_GET
@permission_required("wip.view_workorder", raise_exception=True)
def report(request, slug: str):
    site = current_site(request)
    if site is None:
        raise Http404("You have no site.")
    return render_report(
        request, reports=analytics.REPORTS, slug=slug, site=site, url_name="wip:analytics_report", filename_prefix="wip"
    )


class ReportAPIView(_InventoryReportAPIView):
    """A WIP report as JSON rows. Partner keys need ``read_inventory`` (there is no WIP read scope yet),
    as the inventory reports (the ``access`` declared there)."""

    reports = analytics.REPORTS
    model = WorkOrder
