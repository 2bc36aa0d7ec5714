"""Admin for what EPCIS capture recorded: captures, events, containment, associations,
sensor reports and unresolved identifiers (an error declaration shows on the event it
corrects: ``error_declared_at``, ``corrective_event_ids``).

All read-only: each row is what a partner declared (or what capture derived from it),
and stock effects went through the inventory services when it was captured. A wrong
event is corrected by the sender's error declaration, not by editing it here.
Imported by ``devices/admin.py`` (Django discovers one ``admin`` module per app).
"""

from __future__ import annotations

from django.contrib import admin

from devices.epcis.models import (
    Association,
    Containment,
    EpcisCapture,
    EpcisEvent,
    EpcisIdentifier,
    EpcisSensorReport,
)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EpcisCapture)
class EpcisCaptureAdmin(_ReadOnly):
    list_display = ["id", "site", "created_at", "created_by", "document_id", "event_count"]
    list_filter = ["site"]
    search_fields = ["document_id"]
    list_select_related = ["site", "created_by"]
    date_hierarchy = "created_at"


@admin.register(EpcisEvent)
class EpcisEventAdmin(_ReadOnly):
    list_display = ["event_id", "event_type", "event_time", "site", "biz_step", "outcome", "error_declared_at"]
    list_filter = ["event_type", "outcome", "site"]
    search_fields = ["event_id", "transformation_id"]
    list_select_related = ["site"]
    date_hierarchy = "event_time"
    raw_id_fields = ["capture"]


@admin.register(Containment)
class ContainmentAdmin(_ReadOnly):
    list_display = ["parent", "child", "site", "quantity", "packed_at", "unpacked_at"]
    list_filter = ["site"]
    search_fields = ["parent", "child"]
    list_select_related = ["site"]
    raw_id_fields = ["serial", "lot", "item", "event"]


@admin.register(Association)
class AssociationAdmin(_ReadOnly):
    list_display = ["parent", "child", "site", "quantity", "uom", "associated_at", "dissociated_at"]
    list_filter = ["site"]
    search_fields = ["parent", "child"]
    list_select_related = ["site"]
    raw_id_fields = ["device", "event"]


@admin.register(EpcisSensorReport)
class EpcisSensorReportAdmin(_ReadOnly):
    list_display = ["event", "type", "time", "value", "uom", "exception", "alarm", "site"]
    list_filter = ["exception", "alarm", "site"]
    search_fields = ["device_id", "type"]
    list_select_related = ["event", "site"]
    raw_id_fields = ["event"]


@admin.register(EpcisIdentifier)
class EpcisIdentifierAdmin(_ReadOnly):
    list_display = ["uri", "kind", "role", "site", "event", "resolved_at"]
    list_filter = ["kind", "role", "site", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["uri", "key"]
    list_select_related = ["site", "event"]
    raw_id_fields = ["event", "item", "location"]
