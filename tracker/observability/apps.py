from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "tracker.observability"
    label = "observability"
    verbose_name = "Shopfloor observability"

    def ready(self) -> None:
        # Connects the Celery signals in every process that loads Django:
        # web (publishing side) and worker (running side).
        from tracker.observability import celery_signals  # noqa: F401
