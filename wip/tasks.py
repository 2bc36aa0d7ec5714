"""Thin Celery tasks: each walks the sites and calls a service; safe to retry
(alert_raise keeps one open alert per subject, so a repeat only counts)."""

from __future__ import annotations

from celery import shared_task

from tracker.models import Site
from wip import services


def _sites(site_id: int | None):
    sites = Site.objects.order_by("pk")
    return sites.filter(pk=site_id) if site_id is not None else sites


@shared_task
def check_overtime(site_id: int | None = None) -> int:
    """Operations running longer than standard time × the site's overtime_factor."""
    return sum(services.check_overtime(site=site) for site in _sites(site_id))


@shared_task
def check_wip_limits(site_id: int | None = None) -> int:
    """Stations holding more work than their WIP limit."""
    return sum(services.check_wip_limits(site=site) for site in _sites(site_id))


@shared_task
def check_late_orders(site_id: int | None = None) -> int:
    """Open work orders whose estimated completion is after their due date."""
    return sum(services.check_late(site=site) for site in _sites(site_id))
