"""Routings and their operations and check items; bills of materials."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet
from wip.models._common import MINUTES, QTY, ZERO
from wip.models.stations import Workstation, WorkstationGroup


class Routing(models.Model):
    """How an item is made: its operations in order."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="routings")
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="routings")
    active = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Operation(models.Model):
    """One step of a routing, at a workstation or at any station of a group."""

    routing = models.ForeignKey(Routing, on_delete=models.CASCADE, related_name="operations")
    sequence = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    workstation = models.ForeignKey(
        Workstation, null=True, blank=True, on_delete=models.PROTECT, related_name="operations"
    )
    group = models.ForeignKey(
        WorkstationGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="operations"
    )
    setup_minutes = models.DecimalField(default=ZERO, validators=[MinValueValidator(ZERO)], **MINUTES)
    run_minutes_per_unit = models.DecimalField(default=ZERO, validators=[MinValueValidator(ZERO)], **MINUTES)
    ideal_cycle_seconds = models.DecimalField(
        null=True,
        blank=True,
        max_digits=10,
        decimal_places=3,
        validators=[MinValueValidator(ZERO)],
        help_text="The fastest possible time per unit (OEE performance); empty: the standard run time per unit.",
    )
    inspection_required = models.BooleanField(default=False)
    allow_split = models.BooleanField(
        default=False, help_text="Part of the batch may move on before the rest is done here."
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "routing__site"

    class Meta:
        ordering = ["routing", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["routing", "sequence"], name="operation_sequence_unique"),
            models.CheckConstraint(
                condition=(Q(workstation__isnull=False) & Q(group__isnull=True))
                | (Q(workstation__isnull=True) & Q(group__isnull=False)),
                name="operation_at_station_or_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.routing_id}:{self.sequence} {self.name}"

    def standard_minutes(self, quantity: Decimal) -> Decimal:
        return self.setup_minutes + self.run_minutes_per_unit * quantity

    @property
    def ideal_seconds_per_unit(self) -> Decimal:
        """Ideal cycle time per unit in seconds: the field, else the standard run time."""
        if self.ideal_cycle_seconds is not None:
            return self.ideal_cycle_seconds
        return self.run_minutes_per_unit * 60

    def accepts(self, workstation: Workstation) -> bool:
        if self.workstation_id is not None:
            return self.workstation_id == workstation.pk
        return self.group_id is not None and self.group_id == workstation.group_id


class CheckKind(models.TextChoices):
    PASS_FAIL = "pass_fail", "Pass / fail"
    MEASUREMENT = "measurement", "Measurement"


class CheckItem(models.Model):
    """What an inspection at an operation checks."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="check_items")
    sequence = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CheckKind.choices, default=CheckKind.PASS_FAIL)
    lower_limit = models.DecimalField(null=True, blank=True, **QTY)
    upper_limit = models.DecimalField(null=True, blank=True, **QTY)
    unit = models.CharField(max_length=16, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "operation__routing__site"

    class Meta:
        ordering = ["operation", "sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "name"], name="check_item_name_unique"),
            models.CheckConstraint(
                condition=Q(lower_limit__isnull=True)
                | Q(upper_limit__isnull=True)
                | Q(lower_limit__lte=models.F("upper_limit")),
                name="check_item_limits_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def evaluate(self, *, passed: bool | None, value: Decimal | None) -> bool:
        """Whether a result passes: a measurement within its limits, else the flag."""
        if self.kind == CheckKind.MEASUREMENT:
            if value is None:
                return False
            if self.lower_limit is not None and value < self.lower_limit:
                return False
            return not (self.upper_limit is not None and value > self.upper_limit)
        return bool(passed)


class BillOfMaterials(models.Model):
    """Components per unit of an item."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="boms")
    code = models.CharField(max_length=64, unique=True)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="boms")
    active = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["code"]
        verbose_name = "bill of materials"
        verbose_name_plural = "bills of materials"

    def __str__(self) -> str:
        return self.code


class BomLine(models.Model):
    """A component; ``operation_sequence``: the routing step that consumes it
    (empty: the first step)."""

    bom = models.ForeignKey(BillOfMaterials, on_delete=models.CASCADE, related_name="lines")
    component = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="used_in")
    quantity_per_unit = models.DecimalField(validators=[MinValueValidator(Decimal("0.0001"))], **QTY)
    operation_sequence = models.PositiveIntegerField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "bom__site"

    class Meta:
        ordering = ["bom", "operation_sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bom", "component", "operation_sequence"], name="bom_line_unique"),
            models.CheckConstraint(condition=Q(quantity_per_unit__gt=0), name="bom_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.bom_id}: {self.component_id} × {self.quantity_per_unit}"
