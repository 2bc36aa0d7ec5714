"""Inventory report pages, their CSV/XLSX exports and API, and the forecast pages.

Thin: parse the period, check the site and permission, call ``inventory.analytics``
or ``inventory.forecasting``. The API answers ``GET /api/v1/inventory/analytics/<slug>/?site=<code>``
(partner keys need the ``read_inventory`` scope).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.db_routers import reading_from_replica
from inventory.analytics import reports as analytics
from inventory.analytics.export import bar_chart, export, json_rows, period, plain
from inventory.forecasting import selectors as forecast_selectors
from inventory.forecasting import services as forecast_services
from inventory.models import Item, StockMove
from tracker.api.access import Access
from tracker.api.partner import ApiKeyScopePermission
from tracker.errors import DomainError, NotFound
from tracker.formatting import format_quantity
from tracker.models import Site
from tracker.scoping import has_model_permission
from tracker.selectors import current_site

OPTIONS = {"group": str, "dead_days": int, "a": int, "b": int, "by": str}


def _options(params) -> dict:
    out = {}
    for key, cast in OPTIONS.items():
        if params.get(key):
            try:
                out[key] = cast(params[key])
            except ValueError:
                continue
    return out


def run_report(reports: dict, slug: str, *, site: Site, params):
    if slug not in reports:
        raise NotFound(f"No report {slug!r}.")
    start, end = period(params)
    options = _options(params)
    # Reports, their exports and API read a replica when one is configured (config/db_routers.py):
    # they are read-only and tolerate its lag; the report is built (rows evaluated) inside the block.
    with reading_from_replica():
        report = reports[slug][1](site=site, start=start, end=end, **options)
    return report, start, end, options


def render_report(request, *, reports: dict, slug: str, site: Site, url_name: str, filename_prefix: str):
    try:
        report, start, end, options = run_report(reports, slug, site=site, params=request.GET)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        messages.error(request, exc.detail)
        return HttpResponseRedirect(request.path)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        return export(report, fmt=fmt, filename=f"{filename_prefix}-{slug}-{site.code}-{start}-{end}")
    query = request.GET.copy()
    query.pop("format", None)
    keys = [k for k, _ in report.columns]
    return render(
        request,
        "inventory/analytics/report.html",
        {
            "site": site,
            "report": report,
            "start": start,
            "end": end,
            "extra": options,
            "query": query.urlencode(),
            "reports": [(s, title) for s, (title, _) in reports.items()],
            "url_name": url_name,
            "chart": bar_chart(report.rows, *report.chart) if report.chart else None,
            "table": [[plain(row.get(k)) for k in keys] for row in report.rows],
        },
    )


def _site(request) -> Site:
    site = current_site(request)
    if site is None:
        raise Http404("You have no site.")
    return site


@login_required
@require_GET
@permission_required("inventory.view_stockmove", raise_exception=True)
def index(request):
    return HttpResponseRedirect(reverse("inventory:analytics_report", args=["stock-value"]))


@login_required
@require_GET
@permission_required("inventory.view_stockmove", raise_exception=True)
def report(request, slug: str):
    return render_report(
        request,
        reports=analytics.REPORTS,
        slug=slug,
        site=_site(request),
        url_name="inventory:analytics_report",
        filename_prefix="inventory",
    )


class ReportAPIView(APIView):
    """One report as JSON rows (decimals as strings, dates ISO). ``site`` is a site code you hold."""

    # Reports are not a model: authenticated users (the selectors scope by site), and a key needs its scope.
    permission_classes = [IsAuthenticated, ApiKeyScopePermission]
    access = Access(read="read_inventory")
    reports = analytics.REPORTS
    model: type[models.Model] = StockMove  # the model permission a user needs

    @extend_schema(
        parameters=[
            OpenApiParameter("site", OpenApiTypes.STR, required=True),
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, slug: str):
        user = request.user
        if not (user.is_superuser or has_model_permission(user, self.model, "view")):
            raise NotFound("No such report.")
        site = Site.objects.restrict(user, "view").filter(code=request.query_params.get("site", "")).first()
        if site is None:
            raise NotFound("No such site.")
        result, start, end, options = run_report(self.reports, slug, site=site, params=request.query_params)
        return Response(
            {
                "report": result.slug,
                "title": result.title,
                "site": site.code,
                "start": start,
                "end": end,
                "options": options,
                "columns": [{"key": k, "title": t} for k, t in result.columns],
                "summary": {k: (str(v) if v is not None else None) for k, v in result.summary.items()},
                "rows": json_rows(result),
            }
        )


# --- forecasts -----------------------------------------------------------------------------


def _forecast_chart(forecast, width: int = 640, height: int = 200, pad: int = 28) -> dict | None:
    history = [(d, q) for d, q in forecast.history]
    future = [(d, m, lo, hi) for d, m, lo, hi in forecast.forecast]
    n = len(history) + len(future)
    if not n:
        return None
    top = max([q for _, q in history] + [hi for *_, hi in future] + [1.0])
    step = (width - 2 * pad) / max(n - 1, 1)

    def x(i: int) -> float:
        return round(pad + i * step, 1)

    def y(v: float) -> float:
        return round(height - pad - v / top * (height - 2 * pad), 1)

    hist = " ".join(f"{x(i)},{y(q)}" for i, (_, q) in enumerate(history))
    base = len(history)
    mean = " ".join(f"{x(base + i)},{y(m)}" for i, (_, m, _, _) in enumerate(future))
    band = " ".join(
        [f"{x(base + i)},{y(hi)}" for i, (*_, hi) in enumerate(future)]
        + [f"{x(base + i)},{y(lo)}" for i, (_, _, lo, _) in reversed(list(enumerate(future)))]
    )
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "history": hist,
        "mean": mean,
        "band": band,
        "top": top,  # the axis label: the template rounds it to the unit's precision
        "first": history[0][0] if history else future[0][0],
        "last": future[-1][0] if future else history[-1][0],
        "split_x": x(base) if future else None,
        "bottom": height - pad,
        "right": width - pad,
        "label_y": height - 8,
    }


@login_required
@require_GET
@permission_required("inventory.view_demandforecast", raise_exception=True)
def forecasts(request):
    site = _site(request)
    with reading_from_replica():
        rows = list(forecast_selectors.forecasts_for_user(user=request.user, site=site))
    return render(request, "inventory/analytics/forecasts.html", {"site": site, "rows": rows})


def _service_level(request) -> float:
    try:
        level = float(request.GET.get("service_level") or request.POST.get("service_level") or 0.95)
    except ValueError:
        level = 0.95
    return min(max(level, 0.5), 0.999)


@login_required
@require_GET
@permission_required("inventory.view_demandforecast", raise_exception=True)
def forecast_detail(request, sku: str):
    site = _site(request)
    item = get_object_or_404(Item.objects.restrict(request.user, "view"), sku=sku)
    with reading_from_replica():
        forecast = forecast_selectors.forecast_for_item(user=request.user, site=site, item=item)
    level = _service_level(request)
    suggestion = forecast_services.forecast_suggestion(forecast=forecast, service_level=level) if forecast else None
    return render(
        request,
        "inventory/analytics/forecast.html",
        {
            "site": site,
            "item": item,
            "forecast": forecast,
            "suggestion": suggestion,
            "service_level": level,
            "chart": _forecast_chart(forecast) if forecast else None,
            "can_apply": request.user.has_perm("inventory.change_item"),
        },
    )


@login_required
@require_POST
@permission_required("inventory.change_item", raise_exception=True)
def forecast_apply(request, sku: str):
    site = _site(request)
    item = get_object_or_404(Item.objects.restrict(request.user, "change"), sku=sku)
    forecast = forecast_selectors.forecast_for_item(user=request.user, site=site, item=item)
    if forecast is None:
        raise Http404("No forecast.")
    try:
        updated = forecast_services.forecast_suggestion_apply(
            forecast=forecast, actor=request.user, service_level=_service_level(request)
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            f"{sku}: reorder point {format_quantity(updated.reorder_point, updated)}, "
            f"safety stock {format_quantity(updated.safety_stock, updated)} {updated.unit}.",
        )
    return HttpResponseRedirect(reverse("inventory:forecast", args=[sku]))
