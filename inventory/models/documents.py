"""Documents: partners' receipts and shipments, cycle counts."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models.items import QTY, ZERO, Item, Lot
from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet

if TYPE_CHECKING:
    from inventory.models.ledger import StockMove


class PartnerDocument(models.Model):
    """What a partner's receipt and shipment share: the lines of one order posted in one
    request, at one site, as one ledger batch (the moves carry the document's reference)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=100, blank=True)
    batch = models.UUIDField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"
    #: The moves the creating service posted, set on the document it returns (no column).
    moves_posted: list[StockMove]

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(getattr(self, "reference", ""))


class Receipt(PartnerDocument):
    """A purchase order's lines received in one request."""

    reference = models.CharField(max_length=100, help_text="PO number")
    supplier = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["reference"])]


class Shipment(PartnerDocument):
    """A sales order's lines shipped in one request."""

    reference = models.CharField(max_length=100, help_text="SO number")
    customer = models.CharField(max_length=200, blank=True)
    shipped_at = models.DateTimeField()

    class Meta:
        ordering = ["-shipped_at"]
        indexes = [models.Index(fields=["reference"])]


class CycleCount(models.Model):
    """Counted quantities for a location subtree; variances post as moves on approval."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        CANCELLED = "cancelled", "Cancelled"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"count {self.pk} at {self.location_id}"


class CycleCountLine(models.Model):
    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected = models.DecimalField(**QTY, default=ZERO, help_text="On hand when the line was recorded")
    counted = models.DecimalField(**QTY, null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    # Who recorded the counted quantity (None: a device scan or a task), for separation of duties.
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["count", "item", "location", "lot"], condition=Q(lot__isnull=False), name="countline_unique_lot"
            ),
            models.UniqueConstraint(
                fields=["count", "item", "location"], condition=Q(lot__isnull=True), name="countline_unique_nolot"
            ),
        ]

    @property
    def variance(self) -> Decimal | None:
        return None if self.counted is None else self.counted - self.expected
