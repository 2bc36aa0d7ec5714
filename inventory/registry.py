"""Inventory's nav entries and dashboard panel (registered from InventoryConfig.ready)."""

from __future__ import annotations

from inventory.search import register as register_search
from tracker.registry import DashboardPanel, NavEntry, register_nav, register_panel


def _reorder_panel(*, user, site):
    from inventory.selectors import replenishment

    rows = replenishment(user=user, site=site)
    return {"rows": rows[:10], "total": len(rows)}


register_search()
register_nav(NavEntry(label="Stock", url_name="inventory:stock", permission="inventory.view_stocklevel", order=20))
register_nav(
    NavEntry(label="Replenish", url_name="inventory:replenishment", permission="inventory.view_stocklevel", order=21)
)
register_nav(NavEntry(label="Trace", url_name="inventory:trace", permission="inventory.view_lot", order=22))
register_panel(
    DashboardPanel(
        title="Stock under reorder point",
        template="inventory/_panel_reorder.html",
        context=_reorder_panel,
        permission="inventory.view_stocklevel",
        order=20,
    )
)
from inventory.analytics import registry as _analytics_registry  # noqa: E402, F401  (reports and forecasts nav)
