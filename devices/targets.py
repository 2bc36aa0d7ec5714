"""Finding what a tag can be assigned to, by natural key (inventory and wip own them)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from inventory.models import Lot, SerialUnit, StockLevel
from tracker.scoping import RestrictedQuerySet
from wip.models import WorkOrder


def _split(reference: str) -> tuple[str | None, str]:
    """``SKU/code`` names the item too; a bare code is looked up alone."""
    sku, sep, code = reference.partition("/")
    return (sku.strip(), code.strip()) if sep else (None, reference.strip())


def find_target(*, kind: str, reference: str, site: Any, user: Any = None) -> Any | None:
    """The serial unit, lot or work order of ``site`` named ``reference`` (restricted
    to what ``user`` may see when given), or None when missing or ambiguous."""
    qs: RestrictedQuerySet[Any, Any]
    if kind == "work_order":
        qs = WorkOrder.objects.filter(site=site, number=reference.strip())
    elif kind == "serial":
        sku, code = _split(reference)
        qs = SerialUnit.objects.filter(location__site=site, serial=code)
        if sku:
            qs = qs.filter(item__sku=sku)
    elif kind == "lot":
        sku, code = _split(reference)
        stocked_here = StockLevel.objects.filter(site=site, lot__isnull=False).values("lot_id")
        qs = Lot.objects.filter(Q(site=site) | Q(pk__in=stocked_here), code=code)
        if sku:
            qs = qs.filter(item__sku=sku)
    else:
        return None
    if user is not None:
        qs = qs.restrict(user, "view")
    found = list(qs[:2])
    return found[0] if len(found) == 1 else None


def lot_is_at_site(lot: Lot, site_id: int) -> bool:
    return lot.site_id == site_id or StockLevel.objects.filter(lot=lot, site_id=site_id).exists()
