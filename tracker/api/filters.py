from __future__ import annotations

import django_filters

from tracker.models import Alert, Location


class LocationFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    parent = django_filters.CharFilter(field_name="parent__code")
    within = django_filters.CharFilter(method="filter_within", label="Subtree of the location with this code")
    kind = django_filters.MultipleChoiceFilter(choices=Location._meta.get_field("kind").choices)
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Location
        fields = ["site", "parent", "kind", "is_virtual", "active"]

    def filter_within(self, queryset, name, value):
        root = Location.objects.filter(code=value).only("path").first()
        if root is None:
            return queryset.none()
        return queryset.filter(path__startswith=root.path)

    def filter_q(self, queryset, name, value):
        return queryset.filter(code__icontains=value) | queryset.filter(name__icontains=value)


class AlertFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    open = django_filters.BooleanFilter(field_name="cleared_at", lookup_expr="isnull")

    class Meta:
        model = Alert
        fields = ["site", "kind", "severity", "open"]
