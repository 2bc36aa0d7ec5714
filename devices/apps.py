from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices and ingestion"

    def ready(self) -> None:
        from devices.api import schema  # noqa: F401
        from devices.gs1 import configure_from_environment
        from devices.selectors import work_order_in_container
        from tracker.registry import NavEntry, register_nav
        from wip.scanning import register_container_resolver

        configure_from_environment()
        register_container_resolver(work_order_in_container)
        register_nav(NavEntry(label="Devices", url_name="devices:index", permission="devices.view_device", order=60))
