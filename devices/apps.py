from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices and ingestion"

    def ready(self) -> None:
        from devices.api import schema  # noqa: F401
        from devices.gs1 import configure_from_environment
        from tracker.registry import NavEntry, register_nav

        configure_from_environment()
        register_nav(NavEntry(label="Devices", url_name="devices:index", permission="devices.view_device", order=60))
