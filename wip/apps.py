from django.apps import AppConfig


class WipConfig(AppConfig):
    name = "wip"
    verbose_name = "Work in progress"

    def ready(self) -> None:
        from tracker.registry import DashboardPanel, NavEntry, register_nav, register_panel
        from wip import plan_cache
        from wip.search import register as register_search
        from wip.views import dashboard_panel

        plan_cache.connect()
        register_search()

        register_nav(NavEntry("WIP board", "wip:board", "wip.view_workorder", order=20))
        register_nav(NavEntry("Work orders", "wip:work_orders", "wip.view_workorder", order=21))
        register_nav(NavEntry("Stations", "wip:stations", "wip.view_workstation", order=22))
        register_nav(NavEntry("Bottlenecks", "wip:bottlenecks", "wip.view_workstation", order=23))
        register_nav(NavEntry("OEE", "wip:oee", "wip.view_stationstate", order=23))
        register_nav(NavEntry("Quality", "wip:quality", "wip.view_defect", order=24))
        register_nav(NavEntry("WIP reports", "wip:analytics", "wip.view_workorder", order=25))
        register_panel(
            DashboardPanel(
                title="Work in progress",
                template="wip/_panel.html",
                context=dashboard_panel,
                permission="wip.view_workorder",
                order=20,
            )
        )
