"""List filters by natural key. ``within`` is a location subtree (materialised path prefix)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from inventory.forecasting.models import DemandForecast
from inventory.models import CycleCount, Item, Lot, SerialUnit, StockLevel, StockMove
from tracker.api.filters import IsoDateTimeFilter
from tracker.api.filtersets import FilterSet
from tracker.selectors import location_path


def _subtree(queryset, field: str, code: str):
    path = location_path(code)
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{field}__path__startswith": path})


class ItemFilter(FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="SKU, name, GTIN or ERP id contains")

    class Meta:
        model = Item
        fields = ["kind", "tracking", "unit", "active", "gtin", "external_id"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(
            Q(sku__icontains=value) | Q(name__icontains=value) | Q(gtin=value) | Q(external_id=value)
        )


class StockLevelFilter(FilterSet):
    item = django_filters.CharFilter(field_name="item__sku")
    location = django_filters.CharFilter(field_name="location__code")
    site = django_filters.CharFilter(field_name="site__code")
    lot = django_filters.CharFilter(field_name="lot__code")
    within = django_filters.CharFilter(method="filter_within", label="Location subtree (code of its root)")
    nonzero = django_filters.BooleanFilter(method="filter_nonzero")

    class Meta:
        model = StockLevel
        fields = ["item", "location", "site", "lot"]

    def filter_within(self, queryset, name, value):
        return _subtree(queryset, "location", value)

    def filter_nonzero(self, queryset, name, value):
        return queryset.exclude(on_hand=0, reserved=0) if value else queryset


class StockMoveFilter(FilterSet):
    item = django_filters.CharFilter(field_name="item__sku")
    location = django_filters.CharFilter(method="filter_location", label="Either end of the move")
    source = django_filters.CharFilter(field_name="source__code")
    destination = django_filters.CharFilter(field_name="destination__code")
    site = django_filters.CharFilter(method="filter_site")
    lot = django_filters.CharFilter(field_name="lot__code")
    serial = django_filters.CharFilter(field_name="serial__serial")
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_q", label="Reference, ERP id or partner")

    class Meta:
        model = StockMove
        fields = ["kind", "reference", "reference_type", "external_id", "batch"]

    def filter_location(self, queryset, name, value):
        return queryset.filter(Q(source__code=value) | Q(destination__code=value))

    def filter_site(self, queryset, name, value):
        return queryset.filter(Q(source__site__code=value) | Q(destination__site__code=value))

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(reference=value) | Q(external_id=value) | Q(partner__icontains=value))


class LotFilter(FilterSet):
    item = django_filters.CharFilter(field_name="item__sku")
    code = django_filters.CharFilter()
    site = django_filters.CharFilter(field_name="site__code")
    expires_before = django_filters.DateFilter(field_name="expiry_date", lookup_expr="lte")

    class Meta:
        model = Lot
        fields = ["item", "code", "status", "origin", "origin_reference"]


class SerialFilter(FilterSet):
    item = django_filters.CharFilter(field_name="item__sku")
    lot = django_filters.CharFilter(field_name="lot__code")
    location = django_filters.CharFilter(field_name="location__code")
    within = django_filters.CharFilter(method="filter_within")

    class Meta:
        model = SerialUnit
        fields = ["item", "serial", "lot", "location", "status"]

    def filter_within(self, queryset, name, value):
        return _subtree(queryset, "location", value)


class ForecastFilter(FilterSet):
    item = django_filters.CharFilter(field_name="item__sku")
    site = django_filters.CharFilter(field_name="site__code")

    class Meta:
        model = DemandForecast
        fields = ["item", "site", "status"]


class CycleCountFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    location = django_filters.CharFilter(field_name="location__code")

    class Meta:
        model = CycleCount
        fields = ["site", "location", "status", "reference"]
