"""Thin Celery tasks: each loads rows and calls a service; safe to retry (alerts are raised once)."""

from __future__ import annotations

from celery import shared_task

from inventory import services, stock_daily
from tracker.models import Site


@shared_task
def expiry_alerts_all_sites(days: int = 30) -> int:
    raised = 0
    for site in Site.objects.order_by("pk"):
        raised += services.expiry_alerts_refresh(site=site, days=days)
    return raised


@shared_task
def reorder_sweep_all_sites() -> int:
    """Re-check reorder alerts (thresholds may change without a move)."""
    checked = 0
    for site in Site.objects.order_by("pk"):
        checked += services.reorder_alerts_refresh(site=site)
    return checked


@shared_task
def stock_daily_merge(rounds: int = 50) -> int:
    """Fold the daily rollup's per-post rows into one row per (site, item, day); returns rows read.
    Bounded work per run (``rounds`` batches); what is left waits for the next run."""
    read = 0
    for _ in range(rounds):
        batch = stock_daily.merge()
        read += batch
        if not batch:
            break
    return read


from inventory.forecasting.tasks import forecasts_refresh_all_sites, forecasts_refresh_site  # noqa: E402, F401  (registered with the worker)


@shared_task
def transfer_orders_overdue() -> int:
    """Alert at the destination for each transfer travelling past its expected arrival."""
    return services.transfer_orders_overdue_sweep()
