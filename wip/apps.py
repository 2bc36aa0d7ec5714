from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    # tracker syncs the role groups on its own post_migrate, which runs before
    # wip's permissions exist on a fresh database; sync again once they do.
    from tracker.roles import sync_roles

    sync_roles()


class WipConfig(AppConfig):
    name = "wip"
    verbose_name = "Work in progress"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="wip.sync_roles")
