"""The wip API's reports: load per station and day, and WIP metrics, for one site."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.api.access import Access
from tracker.errors import NotFound, ValidationFailed
from tracker.models import Site
from wip import selectors
from wip.api import responses as r
from wip.models import Workstation


def _site_param(request: Request) -> Site:
    code = request.query_params.get("site", "")
    sites = Site.objects.restrict(request.user, "view")
    site = sites.filter(code=code).first() if code else None
    if site is None and not code and sites.count() == 1:
        site = sites.first()  # the user's only site needs no naming
    if site is None:
        raise NotFound("Name one of your sites: ?site=<code>.")
    return site


def _moment(request: Request, name: str, default: dt.datetime) -> dt.datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    value = parse_datetime(raw)
    if value is None or timezone.is_naive(value):
        raise ValidationFailed(f"{name} must be an ISO 8601 time with an offset.", field=name)
    return value


class LoadView(APIView):
    """Per station and day (next ``days``, default 14): required against available hours; per operator the work held."""

    access = Access(model=Workstation)

    @extend_schema(
        parameters=[OpenApiParameter("site", str), OpenApiParameter("days", int)], responses=r.LoadSerializer
    )
    def get(self, request: Request) -> Response:
        site = _site_param(request)
        try:
            days = min(max(int(request.query_params.get("days", 14)), 1), 60)
        except ValueError as exc:
            raise ValidationFailed("days must be a whole number.", field="days") from exc
        view = selectors.load_view(user=request.user, site=site, days=days)
        return Response(r.LoadSerializer({"site": site.code, "rule": view.get("rule"), **view}).data)


class MetricsView(APIView):
    """Per station and for the site over ``from``-``to`` (default: the current shift so far; with
    only ``to``, the 24 h before it), clipped to the site's life: queue, WIP,
    utilisation, queue and cycle time, throughput, first-pass yield, scrap rate, the
    bottleneck and Little's law."""

    access = Access(model=Workstation)

    @extend_schema(
        parameters=[OpenApiParameter("site", str), OpenApiParameter("from", str), OpenApiParameter("to", str)],
        responses=r.SiteMetricsSerializer,
    )
    def get(self, request: Request) -> Response:
        site = _site_param(request)
        if not Workstation.objects.restrict(request.user, "view").filter(site=site).exists():
            raise NotFound("No workstations to report on.")
        now = timezone.now()
        # Default: the current shift of the site's calendar (so far), as the bottlenecks page.
        shift_start, _ = selectors.current_shift(site=site, now=now)
        end = _moment(request, "to", now)
        start = _moment(
            request, "from", shift_start if "to" not in request.query_params else end - dt.timedelta(hours=24)
        )
        if start >= end:
            raise ValidationFailed("from must be before to.", field="from")
        metrics = selectors.site_metrics(site=site, start=start, end=end, now=now)
        return Response(r.SiteMetricsSerializer(metrics, context={"site": site}).data)
