from __future__ import annotations

from rest_framework import serializers

from tracker.api.base import ScopedSlugRelatedField
from tracker.models import Alert, Location, Site


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["code", "name", "time_zone", "gln"]


class LocationSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class

    class Meta:
        model = Location
        fields = ["code", "name", "kind", "site", "parent", "is_virtual", "depth", "gln", "active"]


class LocationCreateSerializer(serializers.Serializer):
    site = ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all())
    parent = ScopedSlugRelatedField(  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
        slug_field="code", queryset=Location.objects.all(), required=False, allow_null=True
    )
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=["area", "zone", "bin", "workstation", "dock"])
    gln = serializers.CharField(max_length=13, required=False, allow_blank=True, default="")


class AlertSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "site",
            "kind",
            "severity",
            "subject",
            "message",
            "data",
            "raised_at",
            "updated_at",
            "occurrences",
            "acknowledged_by",
            "acknowledged_at",
            "cleared_at",
        ]
