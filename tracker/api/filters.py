from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from tracker.api.filtersets import FilterSet
from tracker.models import Alert, Location
from tracker.selectors import location_path


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with its offset, handed to the database in UTC.

    Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59 (``+18:36`` was a 500
    found by schemathesis); in UTC either is just an instant. An instant outside the
    years 1–9999 once in UTC is an invalid value (400), as any unreadable time is."""

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``django_filters.IsoDateTimeFilter`` that never sends the database an offset it refuses."""

    field_class = UtcIsoDateTimeField


class LocationFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    parent = django_filters.CharFilter(field_name="parent__code")
    within = django_filters.CharFilter(method="filter_within", label="Subtree of the location with this code")
    kind = django_filters.MultipleChoiceFilter(choices=Location._meta.get_field("kind").choices)
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Location
        fields = ["site", "parent", "kind", "is_virtual", "active"]

    def filter_within(self, queryset, name, value):
        path = location_path(value)
        if path is None:
            return queryset.none()
        return queryset.filter(path__startswith=path)

    def filter_q(self, queryset, name, value):
        return queryset.filter(code__icontains=value) | queryset.filter(name__icontains=value)


class AlertFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    open = django_filters.BooleanFilter(field_name="cleared_at", lookup_expr="isnull")

    class Meta:
        model = Alert
        fields = ["site", "kind", "severity", "open"]
