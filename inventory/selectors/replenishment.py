"""What to reorder and what expires."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.models import ZERO, Item, StockLevel, StockReservation
from inventory.selectors.stock import QTY_FIELD
from tracker.models import Site
from tracker.scoping import has_model_permission


def replenishment_internal(*, site: Site) -> list[dict[str, Any]]:
    """Items at ``site`` under their reorder point (or safety stock), with how much to order.

    Order quantity: up to ``max_stock`` when set, else ``reorder_quantity``,
    and never less than what brings availability back to the reorder point.
    One query.
    """
    on_hand = (
        StockLevel.objects.real()
        .filter(item=OuterRef("pk"), site=site)
        .values("item")
        .annotate(s=Sum("on_hand"))
        .values("s")
    )
    reserved = (
        StockReservation.objects.filter(item=OuterRef("pk"), site=site, status=StockReservation.Status.OPEN)
        .values("item")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    items = (
        Item.objects.filter(active=True)
        .filter(Q(reorder_point__gt=0) | Q(safety_stock__gt=0))
        .annotate(
            on_hand_total=Coalesce(Subquery(on_hand, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
            reserved_total=Coalesce(Subquery(reserved, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD),
        )
        .order_by("sku")
    )
    rows = []
    for item in items:
        available = item.on_hand_total - item.reserved_total
        threshold = max(item.reorder_point, item.safety_stock)
        if available >= threshold:
            continue
        if item.max_stock:
            order = item.max_stock - available
        else:
            order = max(item.reorder_quantity, threshold - available)
        if item.is_discrete:
            order = order.to_integral_value(rounding="ROUND_CEILING")
        rows.append(
            {
                "item": item,
                "sku": item.sku,
                "name": item.name,
                "unit": item.unit,
                "on_hand": item.on_hand_total,
                "reserved": item.reserved_total,
                "available": available,
                "reorder_point": item.reorder_point,
                "safety_stock": item.safety_stock,
                "order_quantity": order,
                "lead_time_days": item.lead_time_days,
                "below_safety": available < item.safety_stock,
                "order_by": timezone.localdate(),
            }
        )
    return rows


def replenishment(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """``replenishment_internal`` for a site the user may see (empty otherwise)."""
    if not Site.objects.restrict(user, "view").filter(pk=site.pk).exists():
        return []

    if not (getattr(user, "is_superuser", False) or has_model_permission(user, StockLevel, "view")):
        return []
    return replenishment_internal(site=site)


def expiring_lots_internal(*, site: Site, days: int = 30) -> QuerySet:
    """Lots with stock at the site's real locations expiring within ``days`` (or expired)."""
    horizon = timezone.localdate() + dt.timedelta(days=days)
    return (
        StockLevel.objects.real()
        .filter(site=site, on_hand__gt=0, lot__expiry_date__lte=horizon)
        .values("lot_id", "lot__code", "lot__status", "lot__expiry_date", "item__sku", "item__name", "item__unit")
        .annotate(on_hand=Sum("on_hand"))
        .order_by("lot__expiry_date", "item__sku", "lot__code")
    )


def expiring_lots(*, user: Any, site: Site, days: int = 30) -> QuerySet:
    levels = StockLevel.objects.restrict(user, "view").filter(site=site)
    return expiring_lots_internal(site=site, days=days).filter(pk__in=levels.values("pk"))
