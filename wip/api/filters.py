"""List filters of the wip API, by natural key."""

from __future__ import annotations

import django_filters

from tracker.api.filters import IsoDateTimeFilter
from tracker.api.filtersets import FilterSet
from wip.models import Defect, Hold, Inspection, OperationRun, Routing, WorkOrder, WorkOrderStatus, Workstation


class WorkstationFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    group = django_filters.CharFilter(field_name="group__code")

    class Meta:
        model = Workstation
        fields = ["site", "group", "active"]


class RoutingFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    item = django_filters.CharFilter(field_name="item__sku")

    class Meta:
        model = Routing
        fields = ["site", "item", "active"]


class WorkOrderFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    item = django_filters.CharFilter(field_name="item__sku")
    routing = django_filters.CharFilter(field_name="routing__code")
    status = django_filters.MultipleChoiceFilter(choices=WorkOrderStatus.choices)
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")

    class Meta:
        model = WorkOrder
        fields = ["site", "item", "routing", "status", "external_ref", "priority"]


class RunFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    work_order = django_filters.CharFilter(field_name="work_order__number")
    workstation = django_filters.CharFilter(field_name="workstation__code")
    status = django_filters.MultipleChoiceFilter(choices=OperationRun._meta.get_field("status").choices)

    class Meta:
        model = OperationRun
        fields = ["site", "work_order", "workstation", "status", "sequence", "attempt"]


class DefectFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    work_order = django_filters.CharFilter(field_name="work_order__number")
    workstation = django_filters.CharFilter(field_name="workstation__code")
    open = django_filters.BooleanFilter(method="filter_open")

    class Meta:
        model = Defect
        fields = ["site", "work_order", "workstation", "code", "disposition"]

    def filter_open(self, queryset, name, value):
        return queryset.filter(disposition="") if value else queryset.exclude(disposition="")


class InspectionFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    work_order = django_filters.CharFilter(field_name="work_order__number")

    class Meta:
        model = Inspection
        fields = ["site", "work_order", "result"]


class HoldFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    work_order = django_filters.CharFilter(field_name="work_order__number")
    open = django_filters.BooleanFilter(field_name="released_at", lookup_expr="isnull")

    class Meta:
        model = Hold
        fields = ["site", "work_order", "open"]
