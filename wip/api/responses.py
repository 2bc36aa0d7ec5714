"""Output serializers of the wip API's composite answers (dispatch list, arrival,
timeline, load, metrics), so the OpenAPI schema describes what they return.

They render exactly the JSON these endpoints built by hand before: numbers as
the selectors computed them (an int stays an int) or rounded as they were,
and the metrics period as ``datetime.isoformat()``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wip.api.serializers import DispatchRowSerializer, RunSerializer, WorkOrderSerializer


class NumberField(serializers.FloatField):
    """A number rendered as computed, or rounded to ``digits`` places."""

    def __init__(self, *, digits: int | None = None, **kwargs: Any) -> None:
        self.digits = digits
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return value if self.digits is None else round(value, self.digits)


class IsoDateTimeField(serializers.DateTimeField):
    """``value.isoformat()`` as is: the offset stays ``+00:00`` (DRF would write ``Z``)."""

    def to_representation(self, value: dt.datetime) -> str:
        return value.isoformat()


class WorkOrderDetailSerializer(WorkOrderSerializer):
    """A work order with its estimate from the site plan (``context["estimate"]``)."""

    eta = serializers.SerializerMethodField()
    late_risk = serializers.SerializerMethodField()

    class Meta(WorkOrderSerializer.Meta):
        fields = [*WorkOrderSerializer.Meta.fields, "eta", "late_risk"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_eta(self, obj: Any) -> str | None:
        estimate = self.context.get("estimate")
        return serializers.DateTimeField().to_representation(estimate.eta) if estimate else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_late_risk(self, obj: Any) -> str | None:
        estimate = self.context.get("estimate")
        return estimate.risk if estimate else None


class StationDispatchSerializer(serializers.Serializer):
    workstation = serializers.CharField()
    rule = serializers.CharField()
    results = DispatchRowSerializer(many=True)


class ArrivalSerializer(serializers.Serializer):
    """``wip.services.ArrivalResult``: ``changed`` is false for a repeat or a stale read."""

    changed = serializers.BooleanField()
    reason = serializers.CharField()
    run = RunSerializer(allow_null=True)


class TimelineStepSerializer(serializers.Serializer):
    run = serializers.IntegerField(source="run.pk")
    sequence = serializers.IntegerField(source="run.sequence")
    operation = serializers.CharField(source="run.operation.name")
    attempt = serializers.IntegerField(source="run.attempt")
    status = serializers.CharField(source="run.status")
    workstation = serializers.CharField(source="run.workstation.code", allow_null=True)
    planned_minutes = NumberField()
    actual_minutes = NumberField(allow_null=True)
    queue_minutes = NumberField(allow_null=True)
    planned_start = serializers.DateTimeField(allow_null=True)
    planned_end = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(source="run.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="run.finished_at", allow_null=True)


class WorkOrderTimelineSerializer(serializers.Serializer):
    work_order = serializers.CharField()
    eta = serializers.DateTimeField(allow_null=True)
    late_risk = serializers.CharField(allow_null=True)
    steps = TimelineStepSerializer(many=True)


class DayLoadSerializer(serializers.Serializer):
    day = serializers.DateField()
    required_hours = NumberField()
    available_hours = NumberField()
    state = serializers.CharField()


class StationLoadSerializer(serializers.Serializer):
    workstation = serializers.CharField(source="workstation.code")
    state = serializers.CharField()
    required_hours = NumberField()
    available_hours = NumberField()
    days = DayLoadSerializer(many=True)


class OperatorLoadSerializer(serializers.Serializer):
    username = serializers.CharField()
    running = serializers.IntegerField()
    paused = serializers.IntegerField()
    remaining_hours = NumberField()
    stations = serializers.ListField(child=serializers.CharField())


class LoadSerializer(serializers.Serializer):
    """``wip.selectors.load_view`` of a site; ``rule`` is null when it has no workstation."""

    site = serializers.CharField()
    rule = serializers.CharField(allow_null=True)
    days = serializers.ListField(child=serializers.DateField())
    stations = StationLoadSerializer(many=True)
    operators = OperatorLoadSerializer(many=True)


class StationLittlesLawSerializer(serializers.Serializer):
    avg_wip = NumberField(digits=4)
    throughput_x_cycle_time = NumberField(source="littles_law", digits=4)


class StationMetricsSerializer(serializers.Serializer):
    workstation = serializers.CharField(source="code")
    queue_length = serializers.IntegerField()
    wip = serializers.IntegerField()
    wip_limit = serializers.IntegerField(allow_null=True)
    over_wip_limit = serializers.BooleanField(source="over_limit")
    utilisation = NumberField(digits=4, allow_null=True)
    busy_hours = NumberField()
    available_hours = NumberField()
    avg_queue_minutes = NumberField(allow_null=True)
    avg_cycle_minutes = NumberField(allow_null=True)
    throughput_per_hour = NumberField(digits=4)
    finished = serializers.IntegerField()
    first_pass_yield = NumberField(digits=4, allow_null=True)
    scrap_rate = NumberField(digits=4, allow_null=True)
    littles_law = StationLittlesLawSerializer(source="*")


class BottleneckSerializer(serializers.Serializer):
    workstation = serializers.CharField(source="code")
    utilisation = NumberField(digits=4, allow_null=True)
    avg_queue_minutes = NumberField(allow_null=True)
    queue_length = serializers.IntegerField()
    explanation = serializers.CharField()
    # How much data the choice rests on; ``early``: too little to go by utilisation alone.
    finished_runs = serializers.IntegerField()
    working_hours = NumberField()
    early = serializers.BooleanField()


class SiteLittlesLawSerializer(serializers.Serializer):
    avg_wip_orders = NumberField(digits=4)
    throughput_per_hour = NumberField(source="order_throughput_per_hour", digits=4)
    throughput_x_cycle_time = NumberField(source="littles_law", digits=4)


class SiteMetricsSerializer(serializers.Serializer):
    """``wip.selectors.SiteMetrics`` of the site in ``context["site"]``."""

    site = serializers.SerializerMethodField()
    start = IsoDateTimeField(source="start")
    end = IsoDateTimeField(source="end")
    queue_length = serializers.IntegerField()
    wip = serializers.IntegerField()
    orders_completed = serializers.IntegerField()
    avg_order_cycle_hours = NumberField(allow_null=True)
    first_pass_yield = NumberField(digits=4, allow_null=True)
    scrap_rate = NumberField(digits=4, allow_null=True)
    littles_law = SiteLittlesLawSerializer(source="*")
    bottleneck = BottleneckSerializer(allow_null=True)
    stations = StationMetricsSerializer(many=True)

    # "from" and "to" are Python keywords: declared as start and end, renamed in place.
    _RENAMED = {"start": "from", "end": "to"}

    def get_fields(self) -> dict[str, serializers.Field]:
        return {self._RENAMED.get(name, name): field for name, field in super().get_fields().items()}

    @extend_schema_field(OpenApiTypes.STR)
    def get_site(self, obj: Any) -> str:
        return self.context["site"].code
