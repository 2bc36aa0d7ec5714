from django.apps import AppConfig


def threshold_kind_names(kinds: list[str]) -> dict[str, str]:
    """``threshold.<pk>`` alert kinds by their rule's name ("Cold store above 8 °C"). One query."""
    from devices.models import ThresholdRule

    pks = {int(kind.split(".", 1)[1]): kind for kind in kinds if kind.split(".", 1)[1].isdigit()}
    return {pks[pk]: name for pk, name in ThresholdRule.objects.filter(pk__in=pks).values_list("pk", "name")}


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices and ingestion"

    def ready(self) -> None:
        from devices.api import schema  # noqa: F401
        from devices.gs1 import configure_from_environment
        from devices.key_signals import connect as connect_key_signals
        from devices.search import register as register_search
        from devices.selectors import work_order_in_container
        from tracker.alert_kinds import register_kind_namer
        from tracker.registry import NavEntry, register_nav
        from wip.scanning import register_container_resolver

        configure_from_environment()
        connect_key_signals()
        register_search()
        register_kind_namer("threshold.", threshold_kind_names)
        register_container_resolver(work_order_in_container)
        register_nav(NavEntry(label="Devices", url_name="devices:index", permission="devices.view_device", order=60))
