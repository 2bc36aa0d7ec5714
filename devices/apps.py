from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    # The devices models' permissions exist only once this app's post_migrate has
    # created them (after tracker's own re-sync ran): re-sync the role groups now.
    from tracker.roles import sync_roles

    sync_roles()


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices and ingestion"

    def ready(self) -> None:
        from devices.api import schema  # noqa: F401
        from devices.gs1 import configure_from_environment
        from tracker.registry import NavEntry, register_nav

        configure_from_environment()
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="devices.sync_roles")
        register_nav(NavEntry(label="Devices", url_name="devices:index", permission="devices.view_device", order=60))
