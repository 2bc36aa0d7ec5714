"""Admin for devices, their keys and read points, tag assignments, uploads and rules.

Keys are created through the service (the secret is shown once, in the
confirmation message, and never stored); assignments through ``tag_assign``
(the previous assignment is closed, not overwritten); uploads are read-only
(the raw body is evidence).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from devices import services
from devices.models import (
    Device,
    DeviceKey,
    MachineStateRule,
    ReaderUpload,
    ReadPoint,
    SensorSample,
    Tag,
    TagAssignment,
    TagState,
    ThresholdRule,
    UnknownTag,
    UploadStatus,
    ZoneSetting,
)
from tracker.errors import DomainError

MAX_BODY_SHOWN = 200_000


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadPointInline(admin.TabularInline):
    model = ReadPoint
    extra = 1
    fields = ["port", "reported_as", "name", "location", "active"]
    autocomplete_fields = ["location"]


class DeviceKeyInline(admin.TabularInline):
    model = DeviceKey
    extra = 0
    can_delete = False
    # A tuple: both attributes accept it (a list would have to be typed as field groups).
    fields = readonly_fields = ("name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are made with the "Create a key" action, which shows the secret once


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "name", "kind", "site", "upload_format", "last_seen_at", "battery", "status", "active"]
    list_filter = ["site", "kind", "upload_format", "active"]
    search_fields = ["device_id", "name", "reader_name"]
    list_select_related = ["site"]
    readonly_fields = ["last_seen_at", "battery_pct", "battery_voltage", "health", "silent_since", "created_at"]
    autocomplete_fields = ["location"]
    inlines = [ReadPointInline, DeviceKeyInline]
    actions = ["create_key", "deactivate"]

    @admin.display(description="battery")
    def battery(self, obj):
        if obj.battery_pct is not None:
            return f"{obj.battery_pct.normalize()} %"
        if obj.battery_voltage is not None:
            return f"{obj.battery_voltage.normalize()} V"
        return "—"

    @admin.display(description="status")
    def status(self, obj):
        if not obj.active:
            return "inactive"
        return "silent" if obj.silent_since else ("active" if obj.last_seen_at else "not heard yet")

    @admin.action(description="Create a key (shown once)")
    def create_key(self, request, queryset):
        for device in queryset:
            _, secret = services.device_key_create(device=device, name="admin", created_by=request.user)
            self.message_user(
                request,
                f"Key for {device.device_id}: {secret} — copy it now, it is not shown again.",
                level=messages.WARNING,
            )

    @admin.action(description="Deactivate (its uploads are refused)")
    def deactivate(self, request, queryset):
        # One by one through the service, not queryset.update(): an update sends no signal,
        # and the cached device keys must learn of it (devices.key_signals).
        for device in queryset.filter(active=True):
            services.device_deactivate(device=device, actor=request.user)


@admin.register(DeviceKey)
class DeviceKeyAdmin(admin.ModelAdmin):
    list_display = ["device", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["device__site"]
    search_fields = ["device__device_id", "prefix", "name"]
    list_select_related = ["device"]
    fields = ["device", "name", "expires_at", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    autocomplete_fields = ["device"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [*self.readonly_fields, "device"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = services.device_key_create(
            device=obj.device, name=obj.name, expires_at=obj.expires_at, created_by=request.user
        )
        obj.pk = key.pk
        self.message_user(
            request, f"Key created: {secret} — copy it now, it is not shown again.", level=messages.WARNING
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset.select_related("device__site"):
            services.device_key_revoke(key=key, revoked_by=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays


@admin.register(ZoneSetting)
class ZoneSettingAdmin(admin.ModelAdmin):
    list_display = [
        "location",
        "window_reads",
        "window_ms",
        "offset_db",
        "hold_off_ms",
        "decay_db_per_ms",
        "min_reads",
        "dwell_ms",
    ]
    autocomplete_fields = ["location"]
    list_select_related = ["location"]


class TagAssignmentInline(admin.TabularInline):
    model = TagAssignment
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "target_kind",
        "serial",
        "lot",
        "work_order",
        "code",
        "valid_from",
        "valid_to",
        "assigned_by",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["tag_id", "kind", "site", "created_at"]
    list_filter = ["site", "kind"]
    search_fields = ["tag_id", "epc_hex", "notes"]
    list_select_related = ["site"]
    inlines = [TagAssignmentInline]


class TagAssignmentForm(forms.ModelForm):
    class Meta:
        model = TagAssignment
        fields = ["tag", "target_kind", "serial", "lot", "work_order", "code", "valid_from", "valid_to", "note"]

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()  # type: ignore[misc]  # private ModelForm hook, not in the stubs
        if self.instance.pk is None:
            # A new assignment replaces the open one: tag_assign closes it first, in the
            # same transaction, and the database constraint still guards the result.
            exclude.add("tag")
        return exclude


@admin.register(TagAssignment)
class TagAssignmentAdmin(admin.ModelAdmin):
    """New assignments go through ``tag_assign``: the tag's current one is closed, kept as history."""

    form = TagAssignmentForm
    list_display = ["tag", "target_kind", "target", "valid_from", "valid_to", "assigned_by"]
    list_filter = ["target_kind", "tag__site"]
    search_fields = ["tag__tag_id", "code", "work_order__number", "lot__code", "serial__serial"]
    list_select_related = ["tag", "serial", "lot", "work_order", "assigned_by"]
    autocomplete_fields = ["tag"]
    raw_id_fields = ["serial", "lot", "work_order"]
    fields = [
        "tag",
        "target_kind",
        "serial",
        "lot",
        "work_order",
        "code",
        "valid_from",
        "valid_to",
        "note",
        "assigned_by",
    ]
    readonly_fields = ["assigned_by"]

    @admin.display(description="target")
    def target(self, obj):
        return obj.target_label

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # history is not rewritten: only the end of the period and the note change
            return ["tag", "target_kind", "serial", "lot", "work_order", "code", "valid_from", "assigned_by"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            assignment = services.tag_assign(
                site=obj.tag.site,
                tag_id=obj.tag.tag_id,
                target_kind=obj.target_kind,
                serial=obj.serial,
                lot=obj.lot,
                work_order=obj.work_order,
                code=obj.code,
                valid_from=obj.valid_from,
                actor=request.user,
                note=obj.note,
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, level=messages.ERROR)
            return
        obj.pk = assignment.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TagState)
class TagStateAdmin(ReadOnlyAdmin):
    list_display = ["tag", "location", "since", "last_seen_at", "last_device", "missing_since"]
    list_filter = ["site"]
    search_fields = ["tag__tag_id"]
    list_select_related = ["tag", "location", "last_device"]


@admin.register(UnknownTag)
class UnknownTagAdmin(ReadOnlyAdmin):
    list_display = ["tag", "site", "first_seen_at", "last_seen_at", "reads", "last_location", "last_device"]
    list_filter = ["site"]
    search_fields = ["tag__tag_id"]
    list_select_related = ["tag", "site", "last_location", "last_device"]


@admin.register(ReaderUpload)
class ReaderUploadAdmin(ReadOnlyAdmin):
    """Read-only: the raw body is kept exactly as received."""

    list_display = ["id", "device", "received_at", "format", "size", "status", "attempts", "processed_at"]
    list_filter = ["status", "format", "site"]
    search_fields = ["device__device_id", "upload_key"]
    list_select_related = ["device"]
    date_hierarchy = "received_at"
    fields = readonly_fields = (
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
        "raw_body",
    )
    actions = ["enqueue_again"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")  # the detail page loads it for raw_body only

    @admin.display(description="raw body")
    def raw_body(self, obj):
        body = bytes(obj.body)
        text = body[:MAX_BODY_SHOWN].decode("utf-8", errors="replace")
        more = f"\n… {len(body) - MAX_BODY_SHOWN} more bytes" if len(body) > MAX_BODY_SHOWN else ""
        return format_html('<pre style="white-space:pre-wrap;max-height:40rem;overflow:auto">{}{}</pre>', text, more)

    @admin.action(description="Enqueue again (queued uploads only)")
    def enqueue_again(self, request, queryset):
        from devices.services import _enqueue

        ids = list(queryset.filter(status=UploadStatus.QUEUED).values_list("pk", "received_at"))
        for pk, received_at in ids:
            _enqueue(pk, received_at)
        self.message_user(request, f"{len(ids)} upload(s) enqueued.")


@admin.register(SensorSample)
class SensorSampleAdmin(ReadOnlyAdmin):
    list_display = ["observed_at", "sensor_id", "metric", "value", "unit", "location", "device"]
    list_filter = ["site", "metric"]
    search_fields = ["sensor_id"]
    list_select_related = ["location", "device"]
    date_hierarchy = "observed_at"


@admin.register(ThresholdRule)
class ThresholdRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "metric",
        "scope",
        "subject",
        "direction",
        "create_threshold",
        "clear_threshold",
        "duration_s",
        "severity",
        "active",
    ]
    list_filter = ["site", "metric", "scope", "severity", "active"]
    search_fields = ["name", "metric"]
    list_select_related = ["site", "device", "location"]
    autocomplete_fields = ["device", "location"]

    @admin.display(description="applies to")
    def subject(self, obj):
        return obj.device or obj.location


@admin.register(MachineStateRule)
class MachineStateRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "workstation",
        "sensor_id",
        "metric",
        "running_at",
        "stopped_at",
        "running",
        "active",
    ]
    list_filter = ["site", "metric", "active"]
    search_fields = ["name", "sensor_id"]
    list_select_related = ["site", "workstation"]
    readonly_fields = ["running", "breaching_since", "last_value", "last_sample_at"]


# The EPCIS records' admin lives beside their models; importing it registers it.
from devices.epcis import admin as _epcis_admin  # noqa: E402, F401
