"""Work in progress: stations, routings, work orders, their runs, quality.

Every model is site-scoped (``site_path``) and served through
``.restrict(user, action)``. Quantities are decimals in the item's unit;
standard times are minutes of working time.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Cast

from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet

QTY = {"max_digits": 14, "decimal_places": 4}
MINUTES = {"max_digits": 10, "decimal_places": 3}
ZERO = Decimal("0")


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
    def active(self) -> WorkstationQuerySet:
        return self.filter(active=True)

    def in_flow_order(self) -> WorkstationQuerySet:
        """Along the flow of work, as the boards and the plant dashboard show stations.

        ``flow_position``: the earliest point, as a fraction of its routing's steps,
        at which an active routing's operation runs at the station (itself or its
        group): ``k / n`` for the k-th of n steps. A fraction rather than the raw
        step sequence because routings skip stations: a shelf routed CUT, PAINT,
        ASSY, PACK (10..40) must not put PACK before a cart's TEST at step 50 of 60.
        Ties by code; stations no routing uses come last. Correlated subqueries in
        the same query: no query per station.
        """
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


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_WORK_ORDER_STATUSES = (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ON_HOLD)


class WorkOrderQuerySet(RestrictedQuerySet):
    def open(self) -> WorkOrderQuerySet:
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
    def active(self) -> OperationRunQuerySet:
        return self.filter(status__in=ACTIVE_RUN_STATUSES)

    def open(self) -> OperationRunQuerySet:
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
    move = models.OneToOneField("inventory.StockMove", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["id"]


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
    def open(self) -> DefectQuerySet:
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
    def open(self) -> HoldQuerySet:
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
