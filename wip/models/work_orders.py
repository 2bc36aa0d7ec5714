"""Work orders, their operation runs and the material issued to them."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet
from wip.models._common import MINUTES, QTY, ZERO
from wip.models.routings import BillOfMaterials, Operation, Routing
from wip.models.stations import Workstation


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_WORK_ORDER_STATUSES = (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ON_HOLD)


class WorkOrderQuerySet(RestrictedQuerySet):
    def open(self) -> Self:
        return self.filter(status__in=OPEN_WORK_ORDER_STATUSES)


class WorkOrder(models.Model):
    """An order to make ``quantity`` of ``item`` along ``routing``.

    ``priority``: 1 is the most urgent. ``status_before_hold`` is where a
    released hold returns to.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="work_orders")
    number = models.CharField(max_length=64, unique=True)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="work_orders")
    quantity = models.DecimalField(validators=[MinValueValidator(Decimal("0.0001"))], **QTY)
    routing = models.ForeignKey(Routing, on_delete=models.PROTECT, related_name="work_orders")
    bom = models.ForeignKey(
        BillOfMaterials, null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1), MaxValueValidator(9)])
    status = models.CharField(max_length=16, choices=WorkOrderStatus.choices, default=WorkOrderStatus.PLANNED)
    status_before_hold = models.CharField(max_length=16, choices=WorkOrderStatus.choices, blank=True)
    issue_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where components are issued from; empty: each station's supply location.",
    )
    output_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where the finished goods go; empty: the last station's location.",
    )
    output_lot_code = models.CharField(max_length=64, blank=True)
    output_serials = models.JSONField(default=list, blank=True)
    output_lot = models.ForeignKey(
        "inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="produced_by"
    )
    quantity_completed = models.DecimalField(default=ZERO, **QTY)
    quantity_scrapped = models.DecimalField(default=ZERO, **QTY)
    external_ref = models.CharField(max_length=100, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    released_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = WorkOrderQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["site", "status"]),
            models.Index(fields=["site", "completed_at"]),
        ]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="work_order_quantity_positive")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_WORK_ORDER_STATUSES


class RunStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for the previous step"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"
    FAILED = "failed", "Failed inspection"
    SKIPPED = "skipped", "Skipped"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
OPEN_RUN_STATUSES = (RunStatus.WAITING, *ACTIVE_RUN_STATUSES)


class OperationRunQuerySet(RestrictedQuerySet):
    def active(self) -> Self:
        return self.filter(status__in=ACTIVE_RUN_STATUSES)

    def open(self) -> Self:
        return self.filter(status__in=OPEN_RUN_STATUSES)


class InspectionState(models.TextChoices):
    NOT_REQUIRED = "", "Not required"
    PENDING = "pending", "Pending"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class OperationRun(models.Model):
    """A batch of a work order at one routing step.

    Release makes one per step; a split, a rework or a batch arriving from a
    split upstream adds more (``split_from`` / ``rework_of`` say why).
    ``workstation``: where it is queued or ran (empty while waiting for a
    group). ``released_quantity``: what of its good output has moved on to
    the next step. ``last_event_at``: the time of its last change, so an
    older arrival (a late device read) changes nothing.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="runs")
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="runs")
    sequence = models.PositiveIntegerField()
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.WAITING)
    quantity = models.DecimalField(**QTY)
    good_quantity = models.DecimalField(default=ZERO, **QTY)
    scrap_quantity = models.DecimalField(default=ZERO, **QTY)
    released_quantity = models.DecimalField(default=ZERO, **QTY)
    planned_minutes = models.DecimalField(default=ZERO, **MINUTES)
    inspection = models.CharField(max_length=16, choices=InspectionState.choices, blank=True)
    workstation = models.ForeignKey(Workstation, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="operation_runs"
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    rework_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="rework_runs")
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="split_runs")
    alerted_overtime = models.BooleanField(default=False)

    objects = OperationRunQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["work_order", "sequence", "id"]
        indexes = [
            models.Index(fields=["workstation", "status"]),
            models.Index(fields=["site", "status"]),
            models.Index(fields=["site", "finished_at"]),
            models.Index(fields=["work_order", "sequence", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="run_quantity_positive"),
            models.CheckConstraint(
                condition=Q(good_quantity__gte=0) & Q(scrap_quantity__gte=0) & Q(released_quantity__gte=0),
                name="run_quantities_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.sequence}#{self.pk}"

    @property
    def busy_seconds(self) -> float | None:
        """Time it ran, pauses excluded (None until finished)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds() - self.paused_seconds, 0.0)


class MaterialIssue(models.Model):
    """A component issue for a run: the inventory move that consumed it.

    Kept so that completion can hand ``stock_produce`` exactly the moves of
    this work order for the finished lot's genealogy.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="material_issues")
    run = models.ForeignKey(OperationRun, on_delete=models.CASCADE, related_name="material_issues")
    # No database constraint: stock moves are partitioned on PostgreSQL (primary key
    # (id, occurred_at)), which a foreign key cannot reference; Django still protects.
    move = models.OneToOneField("inventory.StockMove", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["id"]
