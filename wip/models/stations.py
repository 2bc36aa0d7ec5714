"""Workstations, their groups and working hours."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet


class WorkstationGroup(models.Model):
    """Identical stations: an operation at a group runs on any one of them."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="workstation_groups")
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class WorkstationQuerySet(RestrictedQuerySet):
    def active(self) -> Self:
        return self.filter(active=True)

    def in_flow_order(self) -> Self:
        """Along the flow of work, as the boards and the plant dashboard show stations.

        ``flow_position``: the earliest point, as a fraction of its routing's steps,
        at which an active routing's operation runs at the station (itself or its
        group): ``k / n`` for the k-th of n steps. A fraction rather than the raw
        step sequence because routings skip stations: a shelf routed CUT, PAINT,
        ASSY, PACK (10..40) must not put PACK before a cart's TEST at step 50 of 60.
        Ties by code; stations no routing uses come last. Correlated subqueries in
        the same query: no query per station.
        """
        from wip.models.routings import Operation  # routings.py imports this module

        steps = Operation.objects.filter(routing__active=True).order_by().values("routing")
        rank = (
            steps.filter(routing=OuterRef("routing"), sequence__lte=OuterRef("sequence"))
            .annotate(n=Count("pk"))
            .values("n")
        )
        total = steps.filter(routing=OuterRef("routing")).annotate(n=Count("pk")).values("n")
        earliest = (
            Operation.objects.filter(routing__active=True)
            .filter(Q(workstation=OuterRef("pk")) | Q(group=OuterRef("group_id")))
            .annotate(position=Cast(Subquery(rank), FloatField()) / Cast(Subquery(total), FloatField()))
            .order_by("position")
            .values("position")[:1]
        )
        return self.annotate(flow_position=Subquery(earliest, output_field=FloatField())).order_by(
            F("flow_position").asc(nulls_last=True), "code"
        )


class Workstation(models.Model):
    """A workstation location with what it takes to plan work on it.

    ``code`` mirrors the location's code (the natural key partners and
    scanners use). ``operators``: who may run work here; nobody listed means
    anyone with the operator permissions may.
    """

    location = models.OneToOneField(
        Location, on_delete=models.PROTECT, related_name="workstation", limit_choices_to={"kind": "workstation"}
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="workstations")
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    group = models.ForeignKey(
        WorkstationGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="workstations"
    )
    capacity = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    wip_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most work orders queued, running or paused here; empty: no limit."
    )
    supply_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Line-side stock its components are issued from; empty: the station's own location.",
    )
    operators = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="workstations")
    active = models.BooleanField(default=True)
    # When the station began to exist: metrics count no available time before it (nor before the site).
    # A default rather than auto_now_add, so an import can say when a station really started.
    created_at = models.DateTimeField(default=timezone.now)

    objects = WorkstationQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["site", "active"])]

    def __str__(self) -> str:
        return self.code


class WorkingHours(models.Model):
    """One working window of a weekday, for a site (or one station, overriding it).

    A site with no rows works Monday to Friday, 06:00-22:00. ``end`` 00:00
    means midnight at the end of the day.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="working_hours")
    workstation = models.ForeignKey(
        Workstation, null=True, blank=True, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)], help_text="0 = Monday … 6 = Sunday")
    start = models.TimeField()
    end = models.TimeField()

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "workstation", "weekday", "start"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="working_hours_weekday_0_6"),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")) | Q(end="00:00"), name="working_hours_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"
