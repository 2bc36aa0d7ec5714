"""The wip API: thin views over ``wip.services`` and ``wip.selectors``.

Scoping happens in ``initial()`` (tracker.api.base): lists and lookups only
see the user's sites, so another site's work order is a 404. Writable related
fields are ``ScopedSlugRelatedField``. POST actions name the model permission
they need in the view's ``access`` declaration: an operator
may start and complete runs (``change_operationrun``) without being allowed
to release or cancel orders (``change_workorder``).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.api.access import Access, Needs, closed_to_keys
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.idempotency import idempotent_write
from tracker.errors import InvalidTransition, NotFound, ValidationFailed
from tracker.models import Site
from wip import selectors, services
from wip.api import filters
from wip.api import serializers as s
from wip.models import (
    ACTIVE_RUN_STATUSES,
    Defect,
    Hold,
    Inspection,
    Operation,
    OperationRun,
    Routing,
    RunStatus,
    WorkOrder,
    Workstation,
)

WRITE_WORK_ORDERS = "write_work_orders"


def _ok(data, code=status.HTTP_200_OK) -> Response:
    return Response(data, status=code)


class WorkstationViewSet(ScopedReadOnlyViewSet):
    """Workstations with their live figures: queue length, WIP (queued, running,
    paused) against the WIP limit, jobs running."""

    queryset = (
        Workstation.objects.select_related("site", "location", "group", "supply_location")
        .prefetch_related("operators")
        .annotate(
            queue_length=Count("runs", filter=Q(runs__status=RunStatus.QUEUED)),
            wip=Count("runs", filter=Q(runs__status__in=ACTIVE_RUN_STATUSES)),
            running=Count("runs", filter=Q(runs__status=RunStatus.RUNNING)),
        )
        .order_by("code")
    )
    serializer_class = s.WorkstationSerializer
    filterset_class = filters.WorkstationFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["code"]

    @extend_schema(responses=s.DispatchRowSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="dispatch")
    def dispatch_list(self, request, code=None):
        """The station's work in dispatch order (the site's rule), with ETA and late risk."""
        station = self.get_object()
        rows = selectors.dispatch_list(user=request.user, workstation=station)
        site = station.site
        return _ok(
            {
                "workstation": station.code,
                "rule": selectors.dispatch_rule(site),
                "results": s.DispatchRowSerializer(rows, many=True).data,
            }
        )


class RoutingViewSet(ScopedReadOnlyViewSet):
    queryset = (
        Routing.objects.select_related("site", "item")
        .prefetch_related(
            Prefetch(
                "operations",
                queryset=Operation.objects.select_related("workstation", "group")
                .prefetch_related("check_items")
                .order_by("sequence"),
            )
        )
        .order_by("code")
    )
    serializer_class = s.RoutingSerializer
    filterset_class = filters.RoutingFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"


class WorkOrderViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Work orders by number. Create (Idempotency-Key honoured) from an ERP;
    POST actions: release, start, arrive, complete, hold, release-hold, cancel."""

    queryset = (
        WorkOrder.objects.select_related(
            "site", "item", "routing", "bom", "output_lot", "issue_location", "output_location"
        )
        .prefetch_related(
            Prefetch("runs", queryset=OperationRun.objects.select_related("workstation").order_by("sequence", "pk"))
        )
        .order_by("-created_at", "-pk")
    )
    serializer_class = s.WorkOrderSerializer
    filterset_class = filters.WorkOrderFilter
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["due_at", "priority", "created_at", "number"]
    # Starting, arriving and holding write runs and holds of an order the user may see:
    # they need that model's permission, the order only to be visible.
    access = Access(
        write=WRITE_WORK_ORDERS,
        actions={
            "release": Needs("change"),
            "complete": Needs("change"),
            "cancel": Needs("change"),
            "start": Needs("change", model=OperationRun, restrict="view"),
            "arrive": Needs("change", model=OperationRun, restrict="view"),
            "hold": Needs("add", model=Hold, restrict="view"),
            "release_hold": Needs("change", model=Hold, restrict="view"),
        },
    )

    def retrieve(self, request, *args, **kwargs):
        work_order = self.get_object()
        data = s.WorkOrderSerializer(work_order).data
        estimate = selectors.site_schedule(site=work_order.site).orders.get(work_order.number)
        data["eta"] = serializers.DateTimeField().to_representation(estimate.eta) if estimate else None
        data["late_risk"] = estimate.risk if estimate else None
        return _ok(data)

    @extend_schema(request=s.WorkOrderCreateSerializer, responses={201: s.WorkOrderSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        serializer = s.WorkOrderCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        release = data.pop("release")
        if not Site.objects.restrict(request.user, "view").filter(pk=data["site"].pk).exists():
            raise NotFound("No such site.")
        work_order = services.work_order_create(actor=request.user, **data)
        if release:
            work_order = services.work_order_release(work_order=work_order, actor=request.user)
        return _ok(s.WorkOrderSerializer(self._fresh(work_order)).data, status.HTTP_201_CREATED)

    def _fresh(self, work_order: WorkOrder) -> WorkOrder:
        return type(self).queryset.get(pk=work_order.pk)

    def _answer(self, work_order: WorkOrder) -> Response:
        return _ok(s.WorkOrderSerializer(self._fresh(work_order)).data)

    @extend_schema(request=None, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, number=None):
        return self._answer(services.work_order_release(work_order=self.get_object(), actor=request.user))

    @extend_schema(request=s.StationInputSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, number=None):
        """Start the order's next queued step (at ``workstation`` if it is a group's step)."""
        work_order = self.get_object()
        body = s.StationInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        station = body.validated_data.get("workstation")
        queued = OperationRun.objects.filter(work_order=work_order, status=RunStatus.QUEUED).select_related("operation")
        candidates = [r for r in queued.order_by("sequence", "pk") if station is None or r.operation.accepts(station)]
        if not candidates:
            # Nothing queued: starting the first waiting step gives the precise refusal
            # (predecessor_not_done, on hold...); no step at all means not released.
            waiting = OperationRun.objects.filter(work_order=work_order, status=RunStatus.WAITING).order_by(
                "sequence", "pk"
            )
            candidates = list(waiting[:1])
            if not candidates:
                raise InvalidTransition(
                    f"Work order {work_order.number} has no step to start (status {work_order.status})."
                )
        run = services.operation_start(run=candidates[0], operator=request.user, workstation=station)
        return _ok(s.RunSerializer(run).data)

    @extend_schema(request=s.ArriveSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def arrive(self, request, number=None):
        """The order arrived at a station (a click or a scan): its current step queues there."""
        work_order = self.get_object()
        body = s.ArriveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        result = services.operation_arrive(
            workstation=body.validated_data["workstation"],
            work_order=work_order,
            occurred_at=body.validated_data.get("occurred_at"),
            actor=request.user,
            strict=True,
        )
        return _ok(
            {
                "changed": result.changed,
                "reason": result.reason,
                "run": s.RunSerializer(result.run).data if result.run else None,
            }
        )

    @extend_schema(request=s.WorkOrderCompleteSerializer, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, number=None):
        """Book the finished units (lot or serials, with genealogy) and close the order."""
        work_order = self.get_object()
        body = s.WorkOrderCompleteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._answer(
            services.work_order_complete(work_order=work_order, actor=request.user, **body.validated_data)
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.HoldSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, number=None):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hold = services.hold_place(
            work_order=self.get_object(), reason=body.validated_data["reason"], actor=request.user
        )
        return _ok(s.HoldSerializer(hold).data, status.HTTP_201_CREATED)

    @extend_schema(request=s.HoldReleaseSerializer, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"], url_path="release-hold")
    def release_hold(self, request, number=None):
        work_order = self.get_object()
        body = s.HoldReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        holds = Hold.objects.restrict(request.user, "change").filter(work_order=work_order, released_at__isnull=True)
        if body.validated_data.get("hold"):
            holds = holds.filter(pk=body.validated_data["hold"])
        holds = list(holds.order_by("pk"))
        if not holds:
            raise NotFound("No open hold on this work order.")
        for hold in holds:
            services.hold_release(hold=hold, actor=request.user, note=body.validated_data["note"])
        return self._answer(work_order)

    @extend_schema(request=s.ReasonSerializer, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, number=None):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(
            services.work_order_cancel(
                work_order=self.get_object(), reason=body.validated_data["reason"], actor=request.user
            )
        )

    @action(detail=True, methods=["get"])
    def timeline(self, request, number=None):
        """Each step planned (standard minutes, scheduled start/end) against actual."""
        work_order = self.get_object()
        steps, estimate = selectors.work_order_timeline(work_order=work_order)
        when = serializers.DateTimeField()

        def t(value):
            return when.to_representation(value) if value else None

        return _ok(
            {
                "work_order": work_order.number,
                "eta": t(estimate.eta) if estimate else None,
                "late_risk": estimate.risk if estimate else None,
                "steps": [
                    {
                        "run": st.run.pk,
                        "sequence": st.run.sequence,
                        "operation": st.run.operation.name,
                        "attempt": st.run.attempt,
                        "status": st.run.status,
                        "workstation": st.run.workstation.code if st.run.workstation_id else None,
                        "planned_minutes": st.planned_minutes,
                        "actual_minutes": st.actual_minutes,
                        "queue_minutes": st.queue_minutes,
                        "planned_start": t(st.planned_start),
                        "planned_end": t(st.planned_end),
                        "started_at": t(st.run.started_at),
                        "finished_at": t(st.run.finished_at),
                    }
                    for st in steps
                ],
            }
        )


class OperationRunViewSet(ScopedReadOnlyViewSet):
    """Runs (one batch at one step) by id; POST start, pause, resume, complete,
    skip, inspect, defect."""

    queryset = OperationRun.objects.select_related("work_order", "workstation", "operator", "operation").order_by("-pk")
    serializer_class = s.RunSerializer
    filterset_class = filters.RunFilter
    ordering_fields = ["queued_at", "started_at", "finished_at", "sequence"]
    # An MES reports production as it happens: steps started, paused, completed or
    # skipped, inspection results and defects found. The key's user still needs the
    # role (change_operationrun, add_inspection, add_defect) at the run's site.
    access = Access(
        write=WRITE_WORK_ORDERS,
        actions={
            **{name: Needs("change") for name in ("start", "pause", "resume", "complete", "skip")},
            "inspect": Needs("add", model=Inspection, restrict="view"),
            "defect": Needs("add", model=Defect, restrict="view"),
        },
    )

    def _answer(self, run: OperationRun, code=status.HTTP_200_OK) -> Response:
        return _ok(
            s.RunSerializer(
                OperationRun.objects.select_related("work_order", "workstation", "operator", "operation").get(pk=run.pk)
            ).data,
            code,
        )

    @extend_schema(request=s.StationInputSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        body = s.StationInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._answer(
            services.operation_start(
                run=self.get_object(), operator=request.user, workstation=body.validated_data.get("workstation")
            )
        )

    @extend_schema(request=s.ReasonSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(
            services.operation_pause(run=self.get_object(), actor=request.user, reason=body.validated_data["reason"])
        )

    @extend_schema(request=None, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._answer(services.operation_resume(run=self.get_object(), operator=request.user))

    @extend_schema(request=s.CompleteSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        run = self.get_object()
        body = s.CompleteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._answer(services.operation_complete(run=run, actor=request.user, **body.validated_data))

    @extend_schema(request=s.ReasonSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(
            services.operation_skip(run=self.get_object(), actor=request.user, reason=body.validated_data["reason"])
        )

    @extend_schema(request=s.InspectSerializer, responses={201: s.InspectionSerializer})
    @action(detail=True, methods=["post"])
    def inspect(self, request, pk=None):
        run = self.get_object()
        body = s.InspectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        inspection = services.inspection_record(run=run, inspector=request.user, **body.validated_data)
        inspection = (
            Inspection.objects.select_related("work_order", "inspector", "run")
            .prefetch_related("results__check_item")
            .get(pk=inspection.pk)
        )
        return _ok(s.InspectionSerializer(inspection).data, status.HTTP_201_CREATED)

    @extend_schema(request=s.DefectInputSerializer, responses={201: s.DefectSerializer})
    @action(detail=True, methods=["post"])
    def defect(self, request, pk=None):
        run = self.get_object()
        body = s.DefectInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        defect = services.defect_record(run=run, actor=request.user, **body.validated_data)
        return _ok(s.DefectSerializer(_defects().get(pk=defect.pk)).data, status.HTTP_201_CREATED)


def _defects():
    return Defect.objects.select_related(
        "work_order", "workstation", "component", "component_lot", "reported_by", "disposed_by", "run"
    )


class DefectViewSet(ScopedReadOnlyViewSet):
    """Defects; POST ``dispose`` decides an open one (rework, scrap, use as is)."""

    queryset = _defects().order_by("-reported_at", "-pk")
    serializer_class = s.DefectSerializer
    filterset_class = filters.DefectFilter
    # Scrapping, reworking or accepting bad units moves stock and work: a decision
    # a quality inspector makes on the quality page, not one a partner system sends.
    access = Access(
        write=closed_to_keys("Deciding a defect is a quality inspector's call."), actions={"dispose": Needs("change")}
    )

    @extend_schema(request=s.DisposeSerializer, responses=s.DefectSerializer)
    @action(detail=True, methods=["post"])
    def dispose(self, request, pk=None):
        body = s.DisposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        defect = services.defect_dispose(defect=self.get_object(), actor=request.user, **body.validated_data)
        return _ok(s.DefectSerializer(_defects().get(pk=defect.pk)).data)


class InspectionViewSet(ScopedReadOnlyViewSet):
    queryset = (
        Inspection.objects.select_related("work_order", "inspector", "run")
        .prefetch_related("results__check_item")
        .order_by("-inspected_at", "-pk")
    )
    serializer_class = s.InspectionSerializer
    filterset_class = filters.InspectionFilter


class HoldViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Holds on work orders or lots; POST creates one, ``release`` lifts it."""

    queryset = Hold.objects.select_related("work_order", "lot__item", "placed_by", "released_by").order_by(
        "-placed_at", "-pk"
    )
    serializer_class = s.HoldSerializer
    filterset_class = filters.HoldFilter
    # As the work order's hold and release-hold actions: an ERP or MES stops work.
    access = Access(write=WRITE_WORK_ORDERS, actions={"release": Needs("change")})

    @extend_schema(request=s.HoldCreateSerializer, responses={201: s.HoldSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        body = s.HoldCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        hold = services.hold_place(actor=request.user, **body.validated_data)
        return _ok(s.HoldSerializer(type(self).queryset.get(pk=hold.pk)).data, status.HTTP_201_CREATED)

    @extend_schema(request=s.HoldReleaseSerializer, responses=s.HoldSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        body = s.HoldReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hold = services.hold_release(hold=self.get_object(), actor=request.user, note=body.validated_data["note"])
        return _ok(s.HoldSerializer(type(self).queryset.get(pk=hold.pk)).data)


def _site_param(request) -> Site:
    code = request.query_params.get("site", "")
    sites = Site.objects.restrict(request.user, "view")
    site = sites.filter(code=code).first() if code else None
    if site is None:
        if code or sites.count() != 1:
            raise NotFound("Name one of your sites: ?site=<code>.")
        site = sites.first()
    return site


def _moment(request, name: str, default: dt.datetime) -> dt.datetime:
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

    @extend_schema(parameters=[OpenApiParameter("site", str), OpenApiParameter("days", int)], responses=dict)
    def get(self, request):
        site = _site_param(request)
        try:
            days = min(max(int(request.query_params.get("days", 14)), 1), 60)
        except ValueError as exc:
            raise ValidationFailed("days must be a whole number.", field="days") from exc
        view = selectors.load_view(user=request.user, site=site, days=days)
        return _ok(
            {
                "site": site.code,
                "rule": view.get("rule"),
                "days": [d.isoformat() for d in view["days"]],
                "stations": [
                    {
                        "workstation": row.workstation.code,
                        "state": row.state,
                        "required_hours": row.required_hours,
                        "available_hours": row.available_hours,
                        "days": [
                            {
                                "day": d.day.isoformat(),
                                "required_hours": d.required_hours,
                                "available_hours": d.available_hours,
                                "state": d.state,
                            }
                            for d in row.days
                        ],
                    }
                    for row in view["stations"]
                ],
                "operators": [op.__dict__ for op in view["operators"]],
            }
        )


class MetricsView(APIView):
    """Per station and for the site over ``from``-``to`` (default: the last 24 h): queue, WIP,
    utilisation, queue and cycle time, throughput, first-pass yield, scrap rate, the
    bottleneck and Little's law."""

    access = Access(model=Workstation)

    @extend_schema(
        parameters=[OpenApiParameter("site", str), OpenApiParameter("from", str), OpenApiParameter("to", str)],
        responses=dict,
    )
    def get(self, request):
        site = _site_param(request)
        if not Workstation.objects.restrict(request.user, "view").filter(site=site).exists():
            raise NotFound("No workstations to report on.")
        now = timezone.now()
        end = _moment(request, "to", now)
        start = _moment(request, "from", end - dt.timedelta(hours=24))
        if start >= end:
            raise ValidationFailed("from must be before to.", field="from")
        return _ok(metrics_payload(selectors.site_metrics(site=site, start=start, end=end, now=now), site))


def metrics_payload(m: selectors.SiteMetrics, site: Site) -> dict:
    def pct(value):
        return None if value is None else round(value, 4)

    return {
        "site": site.code,
        "from": m.start.isoformat(),
        "to": m.end.isoformat(),
        "queue_length": m.queue_length,
        "wip": m.wip,
        "orders_completed": m.orders_completed,
        "avg_order_cycle_hours": m.avg_order_cycle_hours,
        "first_pass_yield": pct(m.first_pass_yield),
        "scrap_rate": pct(m.scrap_rate),
        "littles_law": {
            "avg_wip_orders": round(m.avg_wip_orders, 4),
            "throughput_per_hour": round(m.order_throughput_per_hour, 4),
            "throughput_x_cycle_time": round(m.littles_law, 4),
        },
        "bottleneck": None
        if m.bottleneck is None
        else {
            "workstation": m.bottleneck.code,
            "utilisation": pct(m.bottleneck.utilisation),
            "avg_queue_minutes": m.bottleneck.avg_queue_minutes,
            "explanation": m.bottleneck.explanation,
        },
        "stations": [
            {
                "workstation": st.code,
                "queue_length": st.queue_length,
                "wip": st.wip,
                "wip_limit": st.wip_limit,
                "over_wip_limit": st.over_limit,
                "utilisation": pct(st.utilisation),
                "busy_hours": st.busy_hours,
                "available_hours": st.available_hours,
                "avg_queue_minutes": st.avg_queue_minutes,
                "avg_cycle_minutes": st.avg_cycle_minutes,
                "throughput_per_hour": round(st.throughput_per_hour, 4),
                "finished": st.finished,
                "first_pass_yield": pct(st.first_pass_yield),
                "scrap_rate": pct(st.scrap_rate),
                "littles_law": {"avg_wip": round(st.avg_wip, 4), "throughput_x_cycle_time": round(st.littles_law, 4)},
            }
            for st in m.stations
        ],
    }


def workstation_or_404(user, code: str) -> Workstation:
    return get_object_or_404(Workstation.objects.restrict(user, "view").select_related("site", "location"), code=code)
