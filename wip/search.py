"""WIP's answer to the search box (``tracker.search``): work orders by number, one scoped query."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tracker.formatting import format_quantity
from tracker.search import SearchHit, SearchSource, matching, register_search
from wip.models import WorkOrder, WorkOrderStatus


def _work_orders(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    rows = matching(WorkOrder.objects.restrict(user, "view"), query, "number").values_list(
        "number", "item__sku", "item__unit", "quantity", "status", "site__code", "site__name"
    )
    return [
        SearchHit(
            key=number,
            title=number,
            detail=f"{format_quantity(quantity, unit)} {unit} of {sku} · {WorkOrderStatus(status).label.lower()}",
            url=reverse("wip:work_order", args=[number]),
            site_code=site_code,
            site_name=site_name,
        )
        for number, sku, unit, quantity, status, site_code, site_name in rows[:limit]
    ]


def register() -> None:
    register_search(SearchSource("work_orders", "Work orders", ("wip.view_workorder",), _work_orders, order=10))
