"""Inventory's answers to the search box (``tracker.search``): items, lots and serials.

Each is one scoped query. Lots and serials open on the trace page, which finds them through the same
``restrict`` whatever the current site, so their hits carry no site; an item is global master data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from inventory.models import Item, Lot, SerialUnit
from tracker.search import SearchHit, SearchSource, matching, register_search


def _items(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    rows = matching(Item.objects.restrict(user, "view"), query, "sku", "name").values_list("sku", "name", "unit")
    return [
        SearchHit(key=sku, title=sku, detail=f"{name} · {unit}", url=reverse("inventory:item", args=[sku]))
        for sku, name, unit in rows[:limit]
    ]


def _lots(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    rows = matching(Lot.objects.restrict(user, "view"), query, "code").values_list(
        "code", "item__sku", "item__name", "status"
    )
    trace = reverse("inventory:trace")
    return [
        SearchHit(
            key=code,
            title=code,
            detail=f"lot of {sku} · {name} · {Lot.Status(status).label.lower()}",
            url=f"{trace}?{urlencode({'lot': f'{sku}/{code}'})}",
        )
        for code, sku, name, status in rows[:limit]
    ]


def _serials(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    rows = matching(SerialUnit.objects.restrict(user, "view"), query, "serial").values_list(
        "serial", "item__sku", "item__name", "status", "location__code"
    )
    trace = reverse("inventory:trace")
    return [
        SearchHit(
            key=serial,
            title=serial,
            detail=f"{sku} · {name} · {SerialUnit.Status(status).label.lower()} at {location}",
            url=f"{trace}?{urlencode({'serial': f'{sku}/{serial}'})}",
        )
        for serial, sku, name, status, location in rows[:limit]
    ]


def register() -> None:
    register_search(SearchSource("items", "Items", ("inventory.view_item",), _items, order=20))
    register_search(SearchSource("lots", "Lots", ("inventory.view_lot",), _lots, order=30))
    register_search(
        SearchSource("serials", "Serials", ("inventory.view_serialunit", "inventory.view_lot"), _serials, order=40)
    )
