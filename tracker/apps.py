from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from tracker.roles import sync_roles

    sync_roles()


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Shopfloor core"

    def ready(self) -> None:
        from tracker import audit_signals  # noqa: F401
        from tracker.api import schema  # noqa: F401

        # Permissions of models added by later migrations exist only after
        # post_migrate; re-syncing then keeps the role groups complete.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="tracker.sync_roles")
