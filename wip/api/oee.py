"""The OEE API: station state intervals, stop reasons, operator stop / resume,
and OEE by station and shift, day or week (``/api/v1/wip/oee/``).

Thin: scoping in ``initial()`` (tracker.api.base) and ``_site_param``; the
writes are ``wip.services.station_*``; the figures ``wip.selectors.oee``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.api.access import Access, Needs
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.filters import IsoDateTimeFilter
from tracker.api.filtersets import FilterSet
from tracker.errors import NotFound, ValidationFailed
from wip import oee, services
from wip.api.reports import _moment, _site_param
from wip.models import ReasonCode, StateSource, StationState, StationStateKind, Workstation
from wip.selectors import oee as oee_selectors

WRITE_WORK_ORDERS = "write_work_orders"


# --- serializers -------------------------------------------------------------------


class ReasonCodeSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    parent = serializers.CharField(source="parent.code", read_only=True, default=None)  # type: ignore[assignment]  # a field named as DRF's Field.parent
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # likewise Field.label

    class Meta:
        model = ReasonCode
        fields = ["id", "site", "code", "name", "parent", "label", "state", "active"]


class StationStateSerializer(serializers.ModelSerializer):
    workstation = serializers.CharField(source="workstation.code", read_only=True)
    reason = serializers.CharField(source="reason.code", read_only=True, default=None)
    reason_label = serializers.SerializerMethodField()
    reason_needed = serializers.BooleanField(read_only=True)
    set_by = serializers.CharField(source="set_by.username", read_only=True, default=None)
    reason_by = serializers.CharField(source="reason_by.username", read_only=True, default=None)

    class Meta:
        model = StationState
        fields = [
            "id",
            "workstation",
            "state",
            "source",
            "started_at",
            "ended_at",
            "reason",
            "reason_label",
            "reason_needed",
            "note",
            "device_ref",
            "set_by",
            "reason_by",
        ]

    def get_reason_label(self, obj: StationState) -> str | None:
        return obj.reason.label if obj.reason is not None else None


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=64, help_text="A stop reason code of the station's site.")
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class FiguresSerializer(serializers.Serializer):
    planned_minutes = serializers.FloatField()
    run_minutes = serializers.FloatField()
    availability = serializers.FloatField(allow_null=True)
    performance = serializers.FloatField(allow_null=True)
    quality = serializers.FloatField(allow_null=True)
    oee = serializers.FloatField(allow_null=True)
    total_count = serializers.DecimalField(max_digits=18, decimal_places=4)
    good_count = serializers.DecimalField(max_digits=18, decimal_places=4)
    losses_minutes = serializers.DictField(child=serializers.FloatField())
    state_minutes = serializers.DictField(child=serializers.FloatField())


class OeeRowSerializer(FiguresSerializer):
    workstation = serializers.CharField(allow_null=True)
    period = serializers.CharField(help_text="The shift's start (UTC), the local day, or the ISO week.")
    shift = serializers.CharField(allow_null=True, help_text="Local start–end of the shift.")
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)


class ParetoSerializer(serializers.Serializer):
    reason = serializers.CharField()
    category = serializers.CharField()
    minutes = serializers.FloatField()
    count = serializers.IntegerField()
    share = serializers.FloatField()
    cumulative = serializers.FloatField()


class OeeReportSerializer(serializers.Serializer):
    site = serializers.CharField()
    by = serializers.CharField()
    start = serializers.DateTimeField(source="from")
    end = serializers.DateTimeField(source="to")
    total = FiguresSerializer()
    results = OeeRowSerializer(many=True)
    pareto = ParetoSerializer(many=True)


def _figures(f: oee.Figures) -> dict[str, Any]:
    return {
        "planned_minutes": round(f.planned_minutes, 2),
        "run_minutes": round(f.run_minutes, 2),
        "availability": f.availability,
        "performance": f.performance,
        "quality": f.quality,
        "oee": f.oee,
        "total_count": f.total,
        "good_count": f.good,
        "losses_minutes": f.losses_minutes(),
        "state_minutes": {k: round(v / 60, 2) for k, v in sorted(f.state_s.items())},
    }


# --- filters and viewsets ----------------------------------------------------------------


class StationStateFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    workstation = django_filters.CharFilter(field_name="workstation__code")
    state = django_filters.MultipleChoiceFilter(choices=StationStateKind.choices)
    source = django_filters.MultipleChoiceFilter(choices=StateSource.choices)
    open = django_filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull")
    reason_needed = django_filters.BooleanFilter(method="_reason_needed")
    since = IsoDateTimeFilter(method="_since", help_text="Intervals still going at or after this time.")
    until = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = StationState
        fields = ["site", "workstation", "state", "source", "open"]

    def _since(self, queryset: Any, name: str, value: dt.datetime) -> Any:
        return queryset.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=value))

    def _reason_needed(self, queryset: Any, name: str, value: bool) -> Any:
        needed = Q(reason__isnull=True, state__in=[s.value for s in oee_selectors.STOP_STATES])
        return queryset.filter(needed) if value else queryset.exclude(needed)


class StationStateViewSet(ScopedReadOnlyViewSet):
    """Station state intervals as each source said them (operator, device, run);
    POST ``reason`` gives a stop its reason (a device stop "reason needed")."""

    queryset = StationState.objects.select_related(
        "workstation", "reason", "reason__parent", "set_by", "reason_by"
    ).order_by("-started_at", "-pk")
    serializer_class = StationStateSerializer
    filterset_class = StationStateFilter
    ordering_fields = ["started_at", "ended_at"]
    access = Access(write=WRITE_WORK_ORDERS, actions={"reason": Needs("change")})

    @extend_schema(request=ReasonInputSerializer, responses=StationStateSerializer)
    @action(detail=True, methods=["post"])
    def reason(self, request: Request, pk: str | None = None) -> Response:
        row = self.get_object()
        body = ReasonInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = reason_of_site(row.site_id, body.validated_data["reason"])
        services.station_state_reason_set(state=row, reason=reason, actor=request.user)
        return Response(StationStateSerializer(type(self).queryset.get(pk=row.pk)).data)


class ReasonCodeFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")

    class Meta:
        model = ReasonCode
        fields = ["site", "active"]


class ReasonCodeViewSet(ScopedReadOnlyViewSet):
    """Each site's stop-reason tree (``parent`` names the node above)."""

    queryset = ReasonCode.objects.select_related("site", "parent").order_by("site", "parent_id", "code")
    serializer_class = ReasonCodeSerializer
    filterset_class = ReasonCodeFilter


def reason_of_site(site_id: int, code: str) -> ReasonCode:
    reason = ReasonCode.objects.select_related("parent").filter(site_id=site_id, code=code, active=True).first()
    if reason is None:
        raise ValidationFailed(f"{code!r} is not a stop reason of this site.", field="reason")
    return reason


# --- OEE ----------------------------------------------------------------------------------

BY = ("shift", "day", "week")


class OeeView(APIView):
    """OEE (availability × performance × quality) with the six big losses in
    minutes, per station and ``by`` shift (default), day or week, for the shifts
    that start in ``from``-``to`` (default: the last 7 days), plus the site total
    and the Pareto of stop reasons. ``station``: one station only."""

    access = Access(model=Workstation)

    @extend_schema(
        parameters=[
            OpenApiParameter("site", str),
            OpenApiParameter("station", str),
            OpenApiParameter("by", str, enum=list(BY)),
            OpenApiParameter("from", str),
            OpenApiParameter("to", str),
        ],
        responses=OeeReportSerializer,
    )
    def get(self, request: Request) -> Response:
        site = _site_param(request)
        by = request.query_params.get("by", "shift")
        if by not in BY:
            raise ValidationFailed(f"by must be one of {', '.join(BY)}.", field="by")
        now = timezone.now()
        end = _moment(request, "to", now)
        start = _moment(request, "from", end - dt.timedelta(days=7))
        if start >= end:
            raise ValidationFailed("from must be before to.", field="from")
        if end - start > dt.timedelta(days=92):
            raise ValidationFailed("Ask for 92 days at most.", field="from")
        stations = Workstation.objects.restrict(request.user, "view").filter(site=site, active=True)
        code = request.query_params.get("station")
        if code:
            stations = stations.filter(code=code)
            if not stations.exists():
                raise NotFound(f"No workstation {code} at {site.code}.")
        report = oee_selectors.site_oee(site=site, start=start, end=end, now=now, stations=stations)
        rows: list[dict[str, Any]] = []
        for ws in report.stations:
            mine = [r for r in report.rows if r.workstation.pk == ws.pk]
            if by == "shift":
                for r in mine:
                    row = {"workstation": ws.code, "period": r.shift.key, "shift": r.shift.label}
                    rows.append({**row, "start": r.shift.start, "end": r.shift.end, **_figures(r.figures)})
                continue
            sub = oee_selectors.OeeReport(site, start, end, now, [ws], report.shifts, mine)
            periods = sub.by_day() if by == "day" else sub.by_week()
            for period, figs in periods:
                rows.append(
                    {"workstation": ws.code, "period": str(period), "shift": None, "start": None, "end": None}
                    | _figures(figs)
                )
        answer = {
            "site": site.code,
            "by": by,
            "from": start,
            "to": end,
            "total": _figures(report.total()),
            "results": rows,
            "pareto": [vars(p) for p in report.pareto()],
        }
        return Response(OeeReportSerializer(answer).data)
