from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tracker.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracker import realtime
        from tracker.webhooks import services, signals  # noqa: F401

        # broadcast() calls this inside the caller's transaction: the outbox
        # row commits (or rolls back) with the business write.
        realtime.add_broadcast_listener(services.webhook_emit_from_broadcast)
