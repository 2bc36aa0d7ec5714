"""Nightly forecast recompute (beat entry in inventory/schedule.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="inventory.forecasting.tasks.forecasts_refresh_site", acks_late=True)
def forecasts_refresh_site(site_id: int) -> int:
    from inventory.forecasting.services import forecasts_refresh
    from tracker.models import Site

    site = Site.objects.filter(pk=site_id).first()
    return forecasts_refresh(site=site) if site is not None else 0


@shared_task(name="inventory.forecasting.tasks.forecasts_refresh_all_sites")
def forecasts_refresh_all_sites() -> int:
    """Fan out one task per site, so sites recompute in parallel on several workers."""
    from tracker.models import Site

    ids = list(Site.objects.values_list("pk", flat=True))
    for site_id in ids:
        forecasts_refresh_site.delay(site_id)
    return len(ids)
