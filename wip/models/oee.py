"""Station states over time and the reason tree their stops are coded with (OEE)."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet
from wip.models.stations import Workstation


class ReasonCode(models.Model):
    """One node of a site's stop-reason tree: ``mechanical`` > ``jam``.

    Operators pick a leaf; reports roll up to the top node (``category``).
    ``state``: the station state a stop with this reason is (an unplanned stop
    unless the reason says planned stop or changeover).
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=16, default="unplanned_stop")
    active = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "parent_id", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="reason_code_unique_per_site")]

    def __str__(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        """``Mechanical > Jam`` (needs ``parent`` loaded to avoid a query)."""
        return f"{self.parent.name} > {self.name}" if self.parent_id and self.parent else self.name


class StationStateKind(models.TextChoices):
    RUNNING = "running", "Running"
    IDLE_STARVED = "idle_starved", "Idle: starved"
    IDLE_BLOCKED = "idle_blocked", "Idle: blocked"
    PLANNED_STOP = "planned_stop", "Planned stop"
    UNPLANNED_STOP = "unplanned_stop", "Unplanned stop"
    CHANGEOVER = "changeover", "Changeover"
    OFFLINE = "offline", "Offline"


#: States that are stops (the operator may be asked why).
STOP_STATES = (
    StationStateKind.PLANNED_STOP,
    StationStateKind.UNPLANNED_STOP,
    StationStateKind.CHANGEOVER,
    StationStateKind.OFFLINE,
)


class StateSource(models.TextChoices):
    """Where a state came from, highest precedence first (see ``wip.timeline``)."""

    OPERATOR = "operator", "Operator"
    DEVICE = "device", "Device"
    RUN = "run", "Work order run"


class StationStateQuerySet(RestrictedQuerySet):
    def open(self) -> Self:
        return self.filter(ended_at__isnull=True)

    def overlapping(self, start: object, end: object) -> Self:
        return self.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)


class StationState(models.Model):
    """What one source said a station was doing over ``[started_at, ended_at)``.

    Each source keeps its own non-overlapping intervals per station (at most
    one open: the constraint); the one timeline shown and measured is merged
    from them by precedence at read time (``wip.timeline``). ``ended_at``
    empty: still so. A stop with no ``reason`` (a device stop) is "reason
    needed" on the station page. ``device_ref``: the device that said so.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    workstation = models.ForeignKey(Workstation, on_delete=models.CASCADE, related_name="states")
    state = models.CharField(max_length=16, choices=StationStateKind.choices)
    source = models.CharField(max_length=16, choices=StateSource.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    device_ref = models.CharField(max_length=255, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = StationStateQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["workstation", "started_at", "id"]
        indexes = [
            models.Index(fields=["workstation", "started_at"]),
            models.Index(fields=["site", "started_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workstation", "source"], condition=Q(ended_at__isnull=True), name="station_state_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="station_state_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workstation_id} {self.state} ({self.source})"

    @property
    def is_stop(self) -> bool:
        return self.state in STOP_STATES

    @property
    def reason_needed(self) -> bool:
        return self.is_stop and self.reason_id is None
