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
        from tracker.registry import DashboardPanel, NavEntry, register_nav, register_panel
        from wip.views import dashboard_panel

        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="wip.sync_roles")
        register_nav(NavEntry("WIP board", "wip:board", "wip.view_workorder", order=20))
        register_nav(NavEntry("Work orders", "wip:work_orders", "wip.view_workorder", order=21))
        register_nav(NavEntry("Stations", "wip:stations", "wip.view_workstation", order=22))
        register_nav(NavEntry("Bottlenecks", "wip:bottlenecks", "wip.view_workstation", order=23))
        register_nav(NavEntry("Quality", "wip:quality", "wip.view_defect", order=24))
        register_nav(NavEntry("WIP reports", "wip:analytics", "wip.view_workorder", order=25))
        register_panel(DashboardPanel(
            title="Work in progress", template="wip/_panel.html", context=dashboard_panel,
            permission="wip.view_workorder", order=20,
        ))
