from django.contrib import admin

from inventory.models import (
    CycleCount,
    CycleCountLine,
    GenealogyLink,
    Item,
    Lot,
    Receipt,
    SerialUnit,
    Shipment,
    StockLevel,
    StockMove,
    StockReservation,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger and cached quantities change only through services: the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "kind", "unit", "tracking", "reorder_point", "safety_stock", "active"]
    list_filter = ["kind", "tracking", "active"]
    search_fields = ["sku", "name", "gtin", "external_id"]


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["code", "item", "site", "origin", "expiry_date", "status"]
    list_filter = ["status", "origin"]
    search_fields = ["code", "item__sku", "origin_reference", "supplier"]
    list_select_related = ["item", "site"]
    readonly_fields = ["status", "status_reason"]  # status changes go through lot_set_status (audited)


@admin.register(SerialUnit)
class SerialUnitAdmin(ReadOnlyAdmin):
    list_display = ["serial", "item", "lot", "location", "status"]
    search_fields = ["serial", "item__sku"]
    list_select_related = ["item", "lot", "location"]


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["item", "location", "lot", "on_hand", "reserved"]
    search_fields = ["item__sku", "location__code", "lot__code"]
    list_select_related = ["item", "location", "lot"]


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "item", "quantity", "source", "destination", "lot", "reference", "occurred_at"]
    list_filter = ["kind", "reference_type"]
    search_fields = ["reference", "external_id", "item__sku", "lot__code"]
    list_select_related = ["item", "source", "destination", "lot"]
    show_full_result_count = False  # the ledger grows without end


@admin.register(StockReservation)
class StockReservationAdmin(ReadOnlyAdmin):
    list_display = ["reference", "item", "site", "quantity", "status"]


admin.site.register([GenealogyLink, Receipt, Shipment], ReadOnlyAdmin)


class CycleCountLineInline(admin.TabularInline):
    model = CycleCountLine
    extra = 0
    can_delete = False
    readonly_fields = ["item", "location", "lot", "expected", "counted", "counted_at"]


@admin.register(CycleCount)
class CycleCountAdmin(ReadOnlyAdmin):
    list_display = ["id", "site", "location", "status", "created_at"]
    inlines = [CycleCountLineInline]
