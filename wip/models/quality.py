"""Inspections and their check results, defects, holds."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet
from wip.models._common import QTY
from wip.models.routings import CheckItem
from wip.models.stations import Workstation
from wip.models.work_orders import OperationRun, WorkOrder


class InspectionResult(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class Inspection(models.Model):
    """The check results recorded for a run."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(OperationRun, on_delete=models.CASCADE, related_name="inspections")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="inspections")
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inspected_at = models.DateTimeField()
    result = models.CharField(max_length=8, choices=InspectionResult.choices)
    notes = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-inspected_at", "-id"]
        indexes = [models.Index(fields=["site", "-inspected_at"])]

    def __str__(self) -> str:
        return f"inspection {self.pk} {self.result}"


class CheckResult(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="results")
    check_item = models.ForeignKey(CheckItem, on_delete=models.PROTECT, related_name="results")
    passed = models.BooleanField()
    value = models.DecimalField(null=True, blank=True, **QTY)

    objects = RestrictedQuerySet.as_manager()
    site_path = "inspection__site"

    class Meta:
        ordering = ["inspection", "check_item__sequence", "id"]
        constraints = [models.UniqueConstraint(fields=["inspection", "check_item"], name="check_result_once")]


class Disposition(models.TextChoices):
    OPEN = "", "Open"
    REWORK = "rework", "Rework"
    SCRAP = "scrap", "Scrap"
    USE_AS_IS = "use_as_is", "Use as is"


class DefectQuerySet(RestrictedQuerySet):
    def open(self) -> Self:
        return self.filter(disposition=Disposition.OPEN)


class Defect(models.Model):
    """Units of a run found bad, and what is done with them.

    Open (no disposition) while it waits for a decision; the run's good
    output does not move on meanwhile. ``component``/``component_lot``: the
    defect is in a component, which a scrap disposition scraps from stock.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="defects")
    run = models.ForeignKey(OperationRun, on_delete=models.CASCADE, related_name="defects")
    workstation = models.ForeignKey(
        Workstation, null=True, blank=True, on_delete=models.PROTECT, related_name="defects"
    )
    inspection = models.ForeignKey(Inspection, null=True, blank=True, on_delete=models.SET_NULL, related_name="defects")
    code = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(validators=[MinValueValidator(Decimal("0.0001"))], **QTY)
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    rework_to_sequence = models.PositiveIntegerField(null=True, blank=True)
    component = models.ForeignKey("inventory.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    component_lot = models.ForeignKey(
        "inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_at = models.DateTimeField()
    disposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    disposed_at = models.DateTimeField(null=True, blank=True)

    objects = DefectQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-reported_at", "-id"]
        indexes = [models.Index(fields=["site", "disposition"])]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="defect_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.code} × {self.quantity}"


class HoldQuerySet(RestrictedQuerySet):
    def open(self) -> Self:
        return self.filter(released_at__isnull=True)


class Hold(models.Model):
    """A stop put on a work order (or on a lot, through inventory's lot status)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="holds")
    lot = models.ForeignKey("inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.TextField(blank=True)

    objects = HoldQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["site", "released_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(work_order__isnull=False) | Q(lot__isnull=False), name="hold_on_something"
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk}"
