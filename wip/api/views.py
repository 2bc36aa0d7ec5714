"""The wip API: thin views over ``wip.services`` and ``wip.selectors``; the
composite answers go through ``wip.api.responses``, the reports live in
``wip.api.reports``.

Scoping happens in ``initial()`` (tracker.api.base): lists and lookups only
see the user's sites, so another site's work order is a 404. Writable related
fields are ``ScopedSlugRelatedField``. POST actions name the model permission
they need in the view's ``access`` declaration: an operator
may start and complete runs (``change_operationrun``) without being allowed
to release or cancel orders (``change_workorder``).
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.api.access import Access, Needs, closed_to_keys
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.idempotency import idempotent_write
from tracker.errors import NotFound
from tracker.models import Site
from wip import selectors, services
from wip.api import filters
from wip.api import oee as oee_api
from wip.api import responses as r
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
    StationState,
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
    # An operator stops the station with a reason and resumes it (the station page's
    # one tap); an MES may report the same with a key holding write_work_orders.
    access = Access(
        write=WRITE_WORK_ORDERS,
        actions={name: Needs("add", model=StationState, restrict="view") for name in ("stop", "resume")},
    )

    # The operation id it had when the schema called it a list: generated clients keep their method name.
    @extend_schema(responses=r.StationDispatchSerializer, operation_id="wip_workstations_dispatch_list")
    @action(detail=True, methods=["get"], url_path="dispatch")
    def dispatch_list(self, request, code=None):
        """The station's work in dispatch order (the site's rule), with ETA and late risk."""
        station = self.get_object()
        rows = selectors.dispatch_list(user=request.user, workstation=station)
        answer = {"workstation": station.code, "rule": selectors.dispatch_rule(station.site), "results": rows}
        return _ok(r.StationDispatchSerializer(answer).data)

    @extend_schema(request=oee_api.ReasonInputSerializer, responses=oee_api.StationStateSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request, code=None):
        """Stop the station with a reason (a stop code of its site); it stays stopped until resumed."""
        station = self.get_object()
        body = oee_api.ReasonInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = oee_api.reason_of_site(station.site_id, body.validated_data["reason"])
        row = services.station_stop(
            workstation=station, reason=reason, actor=request.user, note=body.validated_data["note"]
        )
        return _ok(oee_api.StationStateSerializer(row).data, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def resume(self, request, code=None):
        """End the open stop (the operator's, and a device's): the station runs again."""
        services.station_resume(workstation=self.get_object(), actor=request.user)
        return _ok(None, status.HTTP_204_NO_CONTENT)


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

    @extend_schema(responses=r.WorkOrderDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        work_order = self.get_object()
        estimate = selectors.site_schedule(site=work_order.site).orders.get(work_order.number)
        return _ok(r.WorkOrderDetailSerializer(work_order, context={"estimate": estimate}).data)

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
        run = selectors.run_to_start(work_order=work_order, workstation=station)
        run = services.operation_start(run=run, operator=request.user, workstation=station)
        return _ok(s.RunSerializer(run).data)

    @extend_schema(request=s.ArriveSerializer, responses=r.ArrivalSerializer)
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
        return _ok(r.ArrivalSerializer(result).data)

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
        holds = selectors.holds_to_release(
            user=request.user, work_order=work_order, hold=body.validated_data.get("hold")
        )
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

    @extend_schema(responses=r.WorkOrderTimelineSerializer)
    @action(detail=True, methods=["get"])
    def timeline(self, request, number=None):
        """Each step planned (standard minutes, scheduled start/end) against actual."""
        work_order = self.get_object()
        steps, estimate = selectors.work_order_timeline(work_order=work_order)
        answer = {
            "work_order": work_order.number,
            "eta": estimate.eta if estimate else None,
            "late_risk": estimate.risk if estimate else None,
            "steps": steps,
        }
        return _ok(r.WorkOrderTimelineSerializer(answer).data)


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


def workstation_or_404(user, code: str) -> Workstation:
    return get_object_or_404(Workstation.objects.restrict(user, "view").select_related("site", "location"), code=code)
