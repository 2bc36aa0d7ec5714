from __future__ import annotations

from rest_framework import serializers

from devices.models import Device, ReaderUpload, ReadPoint, Tag, UnknownTag


class ReaderUploadSerializer(serializers.ModelSerializer):
    device = serializers.SlugRelatedField(slug_field="device_id", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="queued, processed or rejected")

    class Meta:
        model = ReaderUpload
        fields = [
            "id",
            "device",
            "site",
            "upload_key",
            "format",
            "content_type",
            "size",
            "received_at",
            "status",
            "reason",
            "result",
            "attempts",
            "processed_at",
        ]


class ReadPointSerializer(serializers.ModelSerializer):
    location = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = ReadPoint
        fields = ["port", "reported_as", "name", "location", "active"]


class DeviceSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    read_points = ReadPointSerializer(many=True, read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "device_id",
            "name",
            "kind",
            "site",
            "upload_format",
            "reader_name",
            "location",
            "upload_period_s",
            "last_seen_at",
            "battery_pct",
            "battery_voltage",
            "firmware",
            "status",
            "active",
            "read_points",
        ]

    def get_status(self, obj: Device) -> str:
        if not obj.active:
            return "inactive"
        return "silent" if obj.silent_since else "active"


class TagSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    location = serializers.SerializerMethodField()
    last_seen_at = serializers.SerializerMethodField()
    since = serializers.SerializerMethodField()
    assignment = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["tag_id", "kind", "epc_hex", "site", "location", "since", "last_seen_at", "assignment"]

    def _state(self, obj: Tag):
        return getattr(obj, "state", None) if hasattr(obj, "state") else None

    def get_location(self, obj: Tag) -> str | None:
        state = self._state(obj)
        return state.location.code if state is not None and state.location_id else None

    def get_last_seen_at(self, obj: Tag) -> str | None:
        state = self._state(obj)
        return state.last_seen_at.isoformat().replace("+00:00", "Z") if state and state.last_seen_at else None

    def get_since(self, obj: Tag) -> str | None:
        state = self._state(obj)
        return state.since.isoformat().replace("+00:00", "Z") if state and state.since else None

    def get_assignment(self, obj: Tag) -> dict | None:
        current = getattr(obj, "current_assignments", None)
        if not current:
            return None
        a = current[0]
        return {
            "target_kind": a.target_kind,
            "target": a.code or str(a.target_object or ""),
            "valid_from": a.valid_from.isoformat().replace("+00:00", "Z"),
        }


class UnknownTagSerializer(serializers.ModelSerializer):
    tag_id = serializers.CharField(source="tag.tag_id", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    last_location = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    last_device = serializers.SlugRelatedField(slug_field="device_id", read_only=True, allow_null=True)

    class Meta:
        model = UnknownTag
        fields = ["tag_id", "site", "first_seen_at", "last_seen_at", "reads", "last_location", "last_device"]


class UploadReceivedSerializer(serializers.Serializer):
    """The answer to an upload: 202 when stored, 200 with the original's id for a retry."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    duplicate = serializers.BooleanField(help_text="true: this upload was received before; nothing new stored")


class EpcisCaptureJobSerializer(serializers.Serializer):
    """An EPCIS 2.0 capture job (the REST binding's names); ours finish before the answer."""

    captureID = serializers.CharField()  # the binding's names
    createdAt = serializers.CharField(allow_null=True)
    running = serializers.BooleanField()
    success = serializers.BooleanField()
    captureErrorBehaviour = serializers.CharField()
    errors = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    counts = serializers.JSONField(help_text="events captured, by type")
