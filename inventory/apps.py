from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from inventory import registry  # noqa: F401  (nav entries and dashboard panel)
