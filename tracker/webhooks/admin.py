from django.contrib import admin, messages

from tracker.errors import DomainError
from tracker.webhooks import services
from tracker.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "site", "owner", "active", "failing_since", "disabled_reason"]
    list_filter = ["site", "active"]
    search_fields = ["url", "description", "owner__username"]
    list_select_related = ["site", "owner"]
    readonly_fields = ["failing_since", "disabled_reason", "created_at", "updated_at"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "site", "created_at"]
    list_filter = ["type", "site"]
    search_fields = ["id"]
    list_select_related = ["site"]

    def has_change_permission(self, request, obj=None):
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status_code", "error", "response_ms", "response_excerpt"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "event__type", "endpoint__site"]
    search_fields = ["event__id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "last_response_ms",
        "delivered_at",
        "created_at",
    ]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay selected deliveries")
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset.order_by("pk"):
            try:
                services.delivery_replay(delivery=delivery, actor=request.user)
                replayed += 1
            except DomainError as exc:
                self.message_user(request, f"{delivery}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"{replayed} deliveries queued again.")
