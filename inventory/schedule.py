"""Periodic inventory checks (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "inventory-expiry-alerts": {
        "task": "inventory.tasks.expiry_alerts_all_sites",
        "schedule": crontab(minute=15, hour="*/6"),
    },
    "inventory-reorder-sweep": {"task": "inventory.tasks.reorder_sweep_all_sites", "schedule": crontab(minute="*/30")},
    # Reports sum whatever rows there are; merging only keeps them few (one per item and day).
    "inventory-stock-daily-merge": {"task": "inventory.tasks.stock_daily_merge", "schedule": crontab(minute="*/5")},
    "inventory-transfers-overdue": {
        "task": "inventory.tasks.transfer_orders_overdue",
        "schedule": crontab(minute="*/15"),
    },
    "inventory-forecasts-nightly": {
        "task": "inventory.forecasting.tasks.forecasts_refresh_all_sites",
        "schedule": crontab(minute=30, hour=2),
    },
}
