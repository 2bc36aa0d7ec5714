from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    # Inventory's permissions are created in inventory's own post_migrate (after
    # tracker's), so the role groups are re-synced here to include them.
    from tracker.roles import sync_roles

    sync_roles()


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="inventory.sync_roles")
        from inventory import registry  # noqa: F401  (nav entries and dashboard panel)
