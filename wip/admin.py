"""Master data (stations, calendars, routings, BOMs) is edited here; work orders,
runs and quality records change only through the services, so the admin shows them."""

from django.contrib import admin

from wip.models import (
    BillOfMaterials,
    BomLine,
    CheckItem,
    Defect,
    Hold,
    Inspection,
    Operation,
    OperationRun,
    ReasonCode,
    Routing,
    StationState,
    WorkingHours,
    WorkOrder,
    Workstation,
    WorkstationGroup,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkstationGroup)
class WorkstationGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "site"]
    list_filter = ["site"]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0
    fields = ["weekday", "start", "end"]


@admin.register(Workstation)
class WorkstationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "site", "group", "capacity", "wip_limit", "active"]
    list_filter = ["site", "group", "active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["operators"]
    raw_id_fields = ["location", "supply_location"]
    inlines = [WorkingHoursInline]

    def save_model(self, request, obj, form, change):
        # The natural key and the site follow the location.
        obj.code = obj.location.code
        obj.site_id = obj.location.site_id
        super().save_model(request, obj, form, change)


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["site", "workstation", "weekday", "start", "end"]
    list_filter = ["site", "weekday"]


class CheckItemInline(admin.TabularInline):
    model = CheckItem
    extra = 0


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = [
        "routing",
        "sequence",
        "name",
        "workstation",
        "group",
        "setup_minutes",
        "run_minutes_per_unit",
        "ideal_cycle_seconds",
        "inspection_required",
        "allow_split",
    ]
    list_filter = ["routing__site", "inspection_required"]
    inlines = [CheckItemInline]


class OperationInline(admin.TabularInline):
    model = Operation
    extra = 0
    show_change_link = True


@admin.register(Routing)
class RoutingAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "site", "item", "active"]
    list_filter = ["site", "active"]
    search_fields = ["code", "item__sku"]
    raw_id_fields = ["item"]
    inlines = [OperationInline]


class BomLineInline(admin.TabularInline):
    model = BomLine
    extra = 0
    raw_id_fields = ["component"]


@admin.register(BillOfMaterials)
class BillOfMaterialsAdmin(admin.ModelAdmin):
    list_display = ["code", "site", "item", "active"]
    list_filter = ["site", "active"]
    search_fields = ["code", "item__sku"]
    raw_id_fields = ["item"]
    inlines = [BomLineInline]


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "site", "item", "quantity", "status", "due_at", "priority", "external_ref"]
    list_filter = ["site", "status"]
    search_fields = ["number", "external_ref"]


@admin.register(OperationRun)
class OperationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "work_order",
        "sequence",
        "attempt",
        "status",
        "workstation",
        "operator",
        "quantity",
        "good_quantity",
        "scrap_quantity",
        "queued_at",
        "started_at",
        "finished_at",
    ]
    list_filter = ["site", "status"]
    search_fields = ["work_order__number"]


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "work_order", "run", "result", "inspector", "inspected_at"]
    list_filter = ["site", "result"]


@admin.register(Defect)
class DefectAdmin(ReadOnlyAdmin):
    list_display = ["id", "work_order", "code", "quantity", "disposition", "workstation", "reported_at"]
    list_filter = ["site", "disposition", "code"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "work_order", "lot", "reason", "placed_at", "released_at"]
    list_filter = ["site"]


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent", "site", "state", "active"]
    list_filter = ["site", "state", "active"]
    search_fields = ["code", "name"]
    list_select_related = ["site", "parent"]


@admin.register(StationState)
class StationStateAdmin(ReadOnlyAdmin):
    """Written by the services (operator, devices, runs) only."""

    list_display = ["workstation", "state", "source", "started_at", "ended_at", "reason", "set_by"]
    list_filter = ["site", "state", "source"]
    list_select_related = ["workstation", "reason", "set_by"]
    date_hierarchy = "started_at"
