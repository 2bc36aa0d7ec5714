"""Master data: workstations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from tracker.models import Location
from tracker.transactions import service_atomic
from wip import errors
from wip.models import Workstation, WorkstationGroup


@service_atomic
def workstation_create(
    *,
    location: Location,
    name: str = "",
    capacity: int = 1,
    wip_limit: int | None = None,
    group: WorkstationGroup | None = None,
    supply_location: Location | None = None,
    operators: Iterable[Any] = (),
    created_at: dt.datetime | None = None,
) -> Workstation:
    """Make a workstation of a location of kind workstation (code = the location's).

    ``created_at``: when it began to exist (default now; an import of an older station says so), the
    time metrics count its availability from."""
    if location.kind != "workstation":
        raise errors.ValidationFailed("A workstation is a location of kind workstation.", field="location")
    if Workstation.objects.filter(location=location).exists():
        raise errors.Conflict(f"{location.code} is already a workstation.", code="duplicate", field="location")
    if capacity < 1:
        raise errors.ValidationFailed("Capacity is at least 1.", field="capacity")
    if group is not None and group.site_id != location.site_id:
        raise errors.ValidationFailed("The group is at another site.", field="group")
    if supply_location is not None and (supply_location.site_id != location.site_id or supply_location.is_virtual):
        raise errors.ValidationFailed(
            "The supply location must be a real location of the site.", field="supply_location"
        )
    station = Workstation.objects.create(
        location=location,
        site_id=location.site_id,
        code=location.code,
        name=name or location.name,
        capacity=capacity,
        wip_limit=wip_limit,
        group=group,
        created_at=created_at or timezone.now(),
        supply_location=supply_location,
    )
    station.operators.set(list(operators))
    return station
