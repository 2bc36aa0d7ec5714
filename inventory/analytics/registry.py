"""Nav entries for the inventory reports and forecasts (imported by inventory/registry.py)."""

from tracker.registry import NavEntry, register_nav

register_nav(NavEntry(label="Reports", url_name="inventory:analytics", permission="inventory.view_stockmove", order=23))
register_nav(
    NavEntry(label="Forecasts", url_name="inventory:forecasts", permission="inventory.view_demandforecast", order=24)
)
