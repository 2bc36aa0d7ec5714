from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from tracker.roles import sync_roles

    sync_roles()


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Shopfloor core"

    def ready(self) -> None:
        from tracker import audit_signals, scoping_signals, versions  # noqa: F401
        from tracker.api import schema  # noqa: F401

        versions.connect()

        # Each app's permissions exist only after its own post_migrate, so the
        # role groups are re-synced after every app's (a few cheap queries each).
        post_migrate.connect(_sync_roles, dispatch_uid="tracker.sync_roles")
