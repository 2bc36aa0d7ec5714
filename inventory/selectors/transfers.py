"""What travels between sites: transfer order lines in transit, seen from one site."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from inventory.models import Item, TransferLine, TransferOrder
from tracker.models import Site


def in_transit_rows(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """Each line still travelling from (``outbound``) or to (``inbound``) ``site``, on orders
    the user may see; two queries whatever the number of lines."""
    orders = TransferOrder.objects.restrict(user, "view").filter(
        Q(source_site=site) | Q(destination_site=site),
        status__in=[TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL],
    )
    lines = (
        TransferLine.objects.filter(order__in=orders.values("pk"))
        .select_related("order__source_site", "order__destination_site", "item", "lot")
        .order_by("order__expected_by", "order_id", "pk")
    )
    now = timezone.now()
    rows = []
    for line in lines:
        order = line.order
        quantity = line.in_transit
        if quantity <= 0:
            continue
        rows.append(
            {
                "number": order.number,
                "direction": "outbound" if order.source_site_id == site.pk else "inbound",
                "from_site": order.source_site.code,
                "to_site": order.destination_site.code,
                "item": line.item.sku,
                "item_obj": line.item,
                "unit": line.item.unit,
                "lot": line.lot.code if line.lot else None,
                "quantity": quantity,
                "serials": [entry["serial"] for entry in line.serials if entry.get("state") == "in_transit"],
                "dispatched_at": order.dispatched_at,
                "expected_by": order.expected_by,
                "overdue": order.expected_by is not None and order.expected_by < now,
            }
        )
    return rows


def missing_serial_rows(*, user: Any, site: Site) -> list[dict[str, Any]]:
    """Each serial still missing on a closed transfer order from or to ``site`` (the order
    closed without it; nobody has booked it found), on orders the user may see, newest
    order first; one query whatever the number of orders and serials."""
    orders = TransferOrder.objects.restrict(user, "view").filter(
        Q(source_site=site) | Q(destination_site=site), status=TransferOrder.Status.CLOSED
    )
    lines = (
        TransferLine.objects.filter(
            order__in=orders.values("pk"),
            item__tracking=Item.Tracking.SERIAL,
            lost__gt=0,
            serials__icontains="missing",  # narrows in SQL; each entry's state is checked below
        )
        .select_related("order__source_site", "order__destination_site", "item", "lot")
        .order_by("-order__closed_at", "-order_id", "pk")
    )
    rows = []
    for line in lines:
        order = line.order
        for entry in line.serials:
            if entry.get("state") != "missing":
                continue
            rows.append(
                {
                    "number": order.number,
                    "direction": "outbound" if order.source_site_id == site.pk else "inbound",
                    "from_site": order.source_site.code,
                    "to_site": order.destination_site.code,
                    "item": line.item.sku,
                    "lot": line.lot.code if line.lot else None,
                    "serial": entry["serial"],
                    "closed_at": order.closed_at,
                    "close_reason": order.close_reason,
                }
            )
    return rows
