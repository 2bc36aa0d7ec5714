"""Reorder and expiry alerts: raised once, cleared on recovery."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from inventory.models import Item
from inventory.services.picking import site_available
from tracker.models import Severity, Site
from tracker.services import alert_clear, alert_raise
from tracker.transactions import service_atomic

REORDER_ALERT = "stock.reorder"


EXPIRY_ALERT = "stock.expiring"


def _check_reorder(*, item: Item, site_id: int) -> None:
    """Raise the reorder alert once when available < reorder point (or safety stock); clear on recovery."""
    threshold = max(item.reorder_point, item.safety_stock)
    if threshold <= 0:
        return
    from tracker.models import Alert

    available = site_available(item=item, site_id=site_id)
    subject = f"item:{item.sku}"
    open_alert = Alert.objects.filter(
        site_id=site_id, kind=REORDER_ALERT, subject=subject, cleared_at__isnull=True
    ).first()
    if available < threshold:
        severity = Severity.CRITICAL if available < item.safety_stock else Severity.WARNING
        if open_alert is None or open_alert.severity != severity:
            alert_raise(
                site=site_id,
                kind=REORDER_ALERT,
                subject=subject,
                severity=severity,
                message=f"{item.sku} {item.name}: {available.normalize():f} {item.unit} available, "
                f"reorder point {item.reorder_point.normalize():f}, safety stock {item.safety_stock.normalize():f}.",
                data={"sku": item.sku, "available": str(available), "reorder_point": str(item.reorder_point)},
            )
    elif open_alert is not None:
        alert_clear(site=site_id, kind=REORDER_ALERT, subject=subject)


def expiry_alerts_refresh(*, site: Site, days: int = 30) -> int:
    """Raise one alert per lot in stock at ``site`` expiring within ``days``; clear the rest. Returns raised."""
    from inventory.selectors import expiring_lots_internal
    from tracker.models import Alert

    raised = 0
    subjects = set()
    for row in expiring_lots_internal(site=site, days=days):
        subject = f"lot:{row['item__sku']}/{row['lot__code']}"
        subjects.add(subject)
        _, created = alert_raise(
            site=site,
            kind=EXPIRY_ALERT,
            subject=subject,
            severity=Severity.CRITICAL if row["lot__expiry_date"] < timezone.localdate() else Severity.WARNING,
            message=f"Lot {row['lot__code']} of {row['item__sku']} expires on {row['lot__expiry_date']} "
            f"({row['on_hand'].normalize():f} in stock).",
            data={"sku": row["item__sku"], "lot": row["lot__code"], "expiry_date": str(row["lot__expiry_date"])},
        )
        raised += int(created)
    for alert in Alert.objects.open().filter(site=site, kind=EXPIRY_ALERT).exclude(subject__in=subjects):
        alert_clear(site=site, kind=EXPIRY_ALERT, subject=alert.subject)
    return raised


@service_atomic
def reorder_alerts_refresh(*, site: Site) -> int:
    """Re-evaluate the reorder alert of every item with a threshold at ``site`` (raise once / clear)."""
    items = Item.objects.filter(active=True).filter(Q(reorder_point__gt=0) | Q(safety_stock__gt=0)).order_by("pk")
    count = 0
    for item in items:
        _check_reorder(item=item, site_id=site.pk)
        count += 1
    return count
