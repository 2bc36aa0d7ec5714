from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from tracker import services
from tracker.models import Alert, ApiKey, AuditEvent, Location, Site, UserProfile


@admin.register(Site)
class SiteAdmin(GuardedModelAdmin):
    """Per-user and per-group object permissions ("Object permissions" button)."""

    list_display = ["code", "name", "time_zone", "count_approval_by_other"]
    search_fields = ["code", "name"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        site = services.site_create(code=obj.code, name=obj.name, time_zone=obj.time_zone, settings=obj.settings)
        if site.count_approval_by_other != obj.count_approval_by_other:
            Site.objects.filter(pk=site.pk).update(count_approval_by_other=obj.count_approval_by_other)
        obj.pk = site.pk


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["indented_code", "name", "kind", "site", "active"]
    list_filter = ["site", "kind", "is_virtual", "active"]
    search_fields = ["code", "name"]
    ordering = ["site", "path"]
    autocomplete_fields = ["parent"]
    list_select_related = ["site"]

    @admin.display(description="code", ordering="path")
    def indented_code(self, obj):
        return f"{'— ' * obj.depth}{obj.code}"


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["raised_at", "site", "kind", "severity", "subject", "acknowledged_by", "cleared_at"]
    list_filter = ["site", "kind", "severity"]
    search_fields = ["subject", "message"]
    readonly_fields = ["raised_at", "updated_at", "occurrences", "acknowledged_by", "acknowledged_at", "cleared_at"]
    list_select_related = ["site", "acknowledged_by"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail cannot be edited or deleted from the admin."""

    list_display = ["at", "actor_repr", "action", "object_type", "object_repr", "site", "ip"]
    list_filter = ["action", "site"]
    search_fields = ["actor_repr", "object_repr", "object_id", "request_id"]
    list_select_related = ["site"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = ["prefix", "hashed_key", "created_at", "last_used_at", "use_count", "revoked_at"]
    fields = [
        "user",
        "name",
        "scopes",
        "sites",
        "expires_at",
        "prefix",
        "hashed_key",
        "created_at",
        "last_used_at",
        "use_count",
        "revoked_at",
    ]
    filter_horizontal = ["sites"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = services.api_key_create(
            user=obj.user, name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at, created_by=request.user
        )
        obj.pk = key.pk  # the sites are saved by save_related() onto this row
        self.message_user(request, f"Key created. Copy it now, it is not shown again: {secret}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key, revoked_by=request.user)


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "default_site"]
