"""Scoped lists: what the user may see of workstations, work orders, routings, defects, inspections and holds."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tracker.models import Site
from wip.models import Defect, Disposition, Hold, Inspection, Routing, WorkOrder, Workstation


def workstations_for_user(*, user: Any, site: Site | None = None) -> QuerySet[Workstation]:
    qs = Workstation.objects.restrict(user, "view").select_related("site", "location", "group")
    return qs.filter(site=site) if site is not None else qs


def work_orders_for_user(*, user: Any, site: Site | None = None) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.restrict(user, "view").select_related("site", "item", "routing")
    return qs.filter(site=site) if site is not None else qs


def open_defects(*, user: Any, site: Site) -> QuerySet[Defect]:
    return (
        Defect.objects.restrict(user, "view")
        .filter(site=site, disposition=Disposition.OPEN)
        .select_related("work_order", "work_order__item", "run", "workstation", "reported_by")
        .order_by("-reported_at")
    )


def recent_inspections(*, user: Any, site: Site) -> QuerySet[Inspection]:
    return (
        Inspection.objects.restrict(user, "view")
        .filter(site=site)
        .select_related("work_order", "run", "inspector")
        .order_by("-inspected_at")
    )


def open_holds(*, user: Any, site: Site) -> QuerySet[Hold]:
    return Hold.objects.restrict(user, "view").filter(site=site).open().select_related("work_order", "lot", "placed_by")


def routings_for_user(*, user: Any) -> QuerySet[Routing]:
    return Routing.objects.restrict(user, "view").select_related("site", "item")
