"""Transfer orders between sites: dispatched into the source site's in-transit location,
received at the destination in full or in part, closed with the shortfall recorded."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models.items import QTY, ZERO, Item, Lot
from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet


class TransferOrderQuerySet(RestrictedQuerySet):
    """Visible from either end: both sites' users see a transfer (each acts on its side)."""

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        return Q(source_site__in=site_ids) | Q(destination_site__in=site_ids)


class TransferOrder(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_TRANSIT = "in_transit", "In transit"
        PARTIAL = "partial", "Partly received"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"

    number = models.CharField(max_length=40, unique=True)
    reference = models.CharField(max_length=100, blank=True)
    source_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    destination_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", help_text="Where it leaves from")
    destination = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", help_text="Where it is received (a dock, a store)"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    expected_by = models.DateTimeField(null=True, blank=True, help_text="dispatch + the destination's transit time")
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=500, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)

    objects = TransferOrderQuerySet.as_manager()
    site_path = "source_site"  # (site_q above is what restrict() uses)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "expected_by"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source_site=models.F("destination_site")), name="transfer_between_sites"
            )
        ]

    def __str__(self) -> str:
        return self.number


class TransferLine(models.Model):
    order = models.ForeignKey(TransferOrder, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY, help_text="ordered (and dispatched)")
    serials = models.JSONField(
        default=list,
        blank=True,
        help_text='A serial-tracked line\'s units from dispatch on: [{"serial": ..., "state": '
        '"in_transit" | "received" | "missing" | "found"}]',
    )
    received = models.DecimalField(**QTY, default=ZERO)
    lost = models.DecimalField(**QTY, default=ZERO, help_text="written off as a shortfall on close")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.item_id} {self.quantity}"

    @property
    def in_transit(self):
        """Still travelling: dispatched, not received, not written off (never below 0)."""
        if self.order.dispatched_at is None:
            return ZERO
        return max(ZERO, self.quantity - self.received - self.lost)


class TransferDiscrepancy(models.Model):
    class Kind(models.TextChoices):
        SHORTFALL = "shortfall", "Shortfall"
        OVERAGE = "overage", "Overage"

    line = models.ForeignKey(TransferLine, on_delete=models.CASCADE, related_name="discrepancies")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quantity = models.DecimalField(**QTY)
    reason = models.CharField(max_length=500)
    serials = models.JSONField(default=list, blank=True, help_text="The serials it concerns (serial-tracked lines)")
    found = models.JSONField(
        default=list,
        blank=True,
        help_text='A shortfall\'s serials found since, each once: [{"serial": ..., "location": <code>, '
        '"found_at": <ISO 8601>, "found_by": <username or "">, "move": <StockMove id>}]',
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity}"
