"""Serializers of the wip API: natural keys out, scoped natural keys in."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from inventory.models import Item, Lot
from tracker.api.base import ScopedSlugRelatedField
from tracker.fields import DecimalSize
from tracker.models import Location, Site
from wip.models import (
    BillOfMaterials,
    CheckItem,
    CheckResult,
    Defect,
    Disposition,
    Hold,
    Inspection,
    Operation,
    OperationRun,
    Routing,
    WorkOrder,
    Workstation,
)

QTY: DecimalSize = {"max_digits": 14, "decimal_places": 4}


def _code(field: str = "code", **kwargs):
    return serializers.SlugRelatedField(slug_field=field, read_only=True, **kwargs)


class WorkstationSerializer(serializers.ModelSerializer):
    site = _code()
    location = _code()
    group = _code(allow_null=True)
    supply_location = _code()
    operators = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    queue_length = serializers.IntegerField(read_only=True)
    wip = serializers.IntegerField(read_only=True)
    running = serializers.IntegerField(read_only=True)
    over_wip_limit = serializers.SerializerMethodField()

    class Meta:
        model = Workstation
        fields = [
            "code",
            "name",
            "site",
            "location",
            "group",
            "capacity",
            "wip_limit",
            "supply_location",
            "active",
            "operators",
            "queue_length",
            "wip",
            "running",
            "over_wip_limit",
        ]

    def get_over_wip_limit(self, obj) -> bool:
        return obj.wip_limit is not None and getattr(obj, "wip", 0) > obj.wip_limit


class CheckItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckItem
        fields = ["name", "kind", "lower_limit", "upper_limit", "unit"]


class OperationSerializer(serializers.ModelSerializer):
    workstation = _code(allow_null=True)
    group = _code(allow_null=True)
    check_items = CheckItemSerializer(many=True, read_only=True)

    class Meta:
        model = Operation
        fields = [
            "sequence",
            "name",
            "workstation",
            "group",
            "setup_minutes",
            "run_minutes_per_unit",
            "ideal_cycle_seconds",
            "inspection_required",
            "allow_split",
            "check_items",
        ]


class RoutingSerializer(serializers.ModelSerializer):
    site = _code()
    item = _code("sku")
    operations = OperationSerializer(many=True, read_only=True)

    class Meta:
        model = Routing
        fields = ["code", "name", "site", "item", "active", "operations"]


class RunSerializer(serializers.ModelSerializer):
    work_order = _code("number")
    workstation = _code(allow_null=True)
    operator = _code("username")
    operation = serializers.CharField(source="operation.name", read_only=True)
    rework_of = serializers.PrimaryKeyRelatedField(read_only=True)
    split_from = serializers.PrimaryKeyRelatedField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="waiting, queued, running, paused, done, failed, skipped")

    class Meta:
        model = OperationRun
        fields = [
            "id",
            "work_order",
            "sequence",
            "operation",
            "attempt",
            "status",
            "quantity",
            "good_quantity",
            "scrap_quantity",
            "released_quantity",
            "planned_minutes",
            "inspection",
            "workstation",
            "operator",
            "queued_at",
            "started_at",
            "paused_at",
            "paused_seconds",
            "finished_at",
            "rework_of",
            "split_from",
        ]


class RunBriefSerializer(serializers.ModelSerializer):
    workstation = _code(allow_null=True)
    status = serializers.CharField(read_only=True, help_text="waiting, queued, running, paused, done, failed, skipped")

    class Meta:
        model = OperationRun
        fields = ["id", "sequence", "attempt", "status", "quantity", "good_quantity", "scrap_quantity", "workstation"]


class WorkOrderSerializer(serializers.ModelSerializer):
    site = _code()
    item = _code("sku")
    routing = _code()
    bom = _code()
    output_lot = _code()
    issue_location = _code()
    output_location = _code()
    runs = RunBriefSerializer(many=True, read_only=True)

    class Meta:
        model = WorkOrder
        fields = [
            "number",
            "site",
            "item",
            "quantity",
            "routing",
            "bom",
            "due_at",
            "priority",
            "status",
            "external_ref",
            "issue_location",
            "output_location",
            "output_lot_code",
            "output_serials",
            "output_lot",
            "quantity_completed",
            "quantity_scrapped",
            "created_at",
            "released_at",
            "started_at",
            "completed_at",
            "cancelled_at",
            "runs",
        ]


class WorkOrderCreateSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)
    site = ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all())
    item = ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.all())
    quantity = serializers.DecimalField(min_value=0, **QTY)
    routing = ScopedSlugRelatedField(slug_field="code", queryset=Routing.objects.all())
    bom = ScopedSlugRelatedField(
        slug_field="code", queryset=BillOfMaterials.objects.all(), required=False, allow_null=True
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.IntegerField(min_value=1, max_value=9, default=5)
    external_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    output_lot_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    output_serials = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
    issue_location = ScopedSlugRelatedField(
        slug_field="code", queryset=Location.objects.all(), required=False, allow_null=True
    )
    output_location = ScopedSlugRelatedField(
        slug_field="code", queryset=Location.objects.all(), required=False, allow_null=True
    )
    release = serializers.BooleanField(default=False, help_text="Release it at once.")


class StationInputSerializer(serializers.Serializer):
    workstation = ScopedSlugRelatedField(
        slug_field="code", queryset=Workstation.objects.all(), required=False, allow_null=True
    )


class ArriveSerializer(serializers.Serializer):
    workstation = ScopedSlugRelatedField(slug_field="code", queryset=Workstation.objects.all())
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)


class WorkOrderCompleteSerializer(serializers.Serializer):
    location = ScopedSlugRelatedField(
        slug_field="code", queryset=Location.objects.all(), required=False, allow_null=True
    )
    lot_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    serials = serializers.ListField(child=serializers.CharField(max_length=64), required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class HoldReleaseSerializer(serializers.Serializer):
    hold = serializers.IntegerField(required=False, allow_null=True, help_text="One hold; empty: every open hold")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ComponentSerializer(serializers.Serializer):
    item = ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.all())
    quantity = serializers.DecimalField(min_value=0, **QTY)
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True)
    serials = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    location = ScopedSlugRelatedField(
        slug_field="code", queryset=Location.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        code = attrs.pop("lot", "")
        if code:
            user = self.context["request"].user
            lot = Lot.objects.restrict(user, "view").filter(item=attrs["item"], code=code).first()
            if lot is None:
                raise serializers.ValidationError({"lot": [f"No lot {code!r} of {attrs['item'].sku}."]})
            attrs["lot"] = lot
        return attrs


class CompleteSerializer(serializers.Serializer):
    good_quantity = serializers.DecimalField(min_value=0, **QTY)
    scrap_quantity = serializers.DecimalField(min_value=0, default=Decimal("0"), **QTY)
    scrap_code = serializers.CharField(max_length=64, required=False, default="SCRAP")
    components = ComponentSerializer(many=True, required=False)


class CheckResultInputSerializer(serializers.Serializer):
    check = serializers.CharField(max_length=200)
    passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    value = serializers.DecimalField(required=False, allow_null=True, default=None, **QTY)


class InspectSerializer(serializers.Serializer):
    results = CheckResultInputSerializer(many=True, required=False, default=list)
    passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    failed_quantity = serializers.DecimalField(min_value=0, required=False, allow_null=True, default=None, **QTY)
    defect_code = serializers.CharField(max_length=64, required=False, default="INSPECTION_FAILED")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DefectInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    quantity = serializers.DecimalField(min_value=0, **QTY)
    disposition = serializers.ChoiceField(choices=Disposition.choices, required=False, allow_blank=True, default="")
    rework_to_sequence = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    component = ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.all(), required=False, allow_null=True)
    component_lot = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def validate(self, attrs):
        code = attrs.pop("component_lot", "")
        if code:
            component = attrs.get("component")
            if component is None:
                raise serializers.ValidationError({"component_lot": ["Name the component too."]})
            user = self.context["request"].user
            lot = Lot.objects.restrict(user, "view").filter(item=component, code=code).first()
            if lot is None:
                raise serializers.ValidationError({"component_lot": [f"No lot {code!r} of {component.sku}."]})
            attrs["component_lot"] = lot
        return attrs


class DisposeSerializer(serializers.Serializer):
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    rework_to_sequence = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    def validate_disposition(self, value: str) -> str:
        if not value:
            raise serializers.ValidationError("Choose rework, scrap or use_as_is.")
        return value


class DefectSerializer(serializers.ModelSerializer):
    work_order = _code("number")
    workstation = _code()
    component = _code("sku")
    component_lot = _code()
    reported_by = _code("username")
    disposed_by = _code("username")
    run = serializers.PrimaryKeyRelatedField(read_only=True)
    inspection = serializers.PrimaryKeyRelatedField(read_only=True)
    sequence = serializers.IntegerField(source="run.sequence", read_only=True)
    disposition = serializers.CharField(read_only=True, help_text="empty (open), rework, scrap or use_as_is")

    class Meta:
        model = Defect
        fields = [
            "id",
            "work_order",
            "run",
            "sequence",
            "workstation",
            "inspection",
            "code",
            "description",
            "quantity",
            "disposition",
            "rework_to_sequence",
            "component",
            "component_lot",
            "reported_by",
            "reported_at",
            "disposed_by",
            "disposed_at",
        ]


class CheckResultSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_item.name", read_only=True)
    kind = serializers.CharField(source="check_item.kind", read_only=True)

    class Meta:
        model = CheckResult
        fields = ["check", "kind", "passed", "value"]


class InspectionSerializer(serializers.ModelSerializer):
    work_order = _code("number")
    inspector = _code("username")
    run = serializers.PrimaryKeyRelatedField(read_only=True)
    sequence = serializers.IntegerField(source="run.sequence", read_only=True)
    results = CheckResultSerializer(many=True, read_only=True)

    class Meta:
        model = Inspection
        fields = ["id", "work_order", "run", "sequence", "inspector", "inspected_at", "result", "notes", "results"]


class HoldSerializer(serializers.ModelSerializer):
    work_order = _code("number")
    lot = _code()
    item = serializers.CharField(source="lot.item.sku", read_only=True, default=None)
    placed_by = _code("username")
    released_by = _code("username")

    class Meta:
        model = Hold
        fields = [
            "id",
            "work_order",
            "lot",
            "item",
            "reason",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_note",
        ]


class HoldCreateSerializer(serializers.Serializer):
    work_order = ScopedSlugRelatedField(
        slug_field="number", queryset=WorkOrder.objects.all(), required=False, allow_null=True
    )
    item = ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.all(), required=False, allow_null=True)
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000)

    def validate(self, attrs):
        code, item = attrs.pop("lot", ""), attrs.pop("item", None)
        if code:
            if item is None:
                raise serializers.ValidationError({"item": ["Name the lot's item (sku)."]})
            lot = Lot.objects.restrict(self.context["request"].user, "view").filter(item=item, code=code).first()
            if lot is None:
                raise serializers.ValidationError({"lot": [f"No lot {code!r} of {item.sku}."]})
            attrs["lot"] = lot
        if bool(attrs.get("work_order")) == bool(attrs.get("lot")):
            raise serializers.ValidationError({"work_order": ["Hold a work order or a lot (item + lot)."]})
        return attrs


class DispatchRowSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    run = serializers.IntegerField(source="run.pk")
    work_order = serializers.CharField(source="work_order.number")
    item = serializers.CharField(source="work_order.item.sku")
    sequence = serializers.IntegerField(source="run.sequence")
    operation = serializers.CharField(source="run.operation.name")
    status = serializers.CharField(source="run.status")
    quantity = serializers.DecimalField(source="run.quantity", **QTY)
    priority = serializers.IntegerField(source="work_order.priority")
    due_at = serializers.DateTimeField(source="work_order.due_at")
    queued_at = serializers.DateTimeField(source="run.queued_at")
    processing_minutes = serializers.FloatField()
    remaining_minutes = serializers.FloatField()
    critical_ratio = serializers.FloatField(allow_null=True)
    eta = serializers.DateTimeField(allow_null=True)
    risk = serializers.CharField()
