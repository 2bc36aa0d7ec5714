"""What EPCIS capture keeps: each captured event once (by ``eventID``), the
containment AggregationEvents record, and one row per capture request.

Imported by ``devices.models`` so the rows belong to the ``devices`` app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracker.scoping import RestrictedQuerySet


class EpcisCapture(models.Model):
    """One ``POST /epcis/capture``: who sent it and what it did (the capture job of
    the EPCIS 2.0 REST binding, finished by the time the request answers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(
        "tracker.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The site of the document's first located event (empty: none was located).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    document_id = models.CharField(max_length=255, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "EPCIS capture"

    def __str__(self) -> str:
        return f"capture {self.pk}"


class EpcisOutcome(models.TextChoices):
    APPLIED = "applied", "Applied to the ledger / WIP"
    RECORDED = "recorded", "Recorded, no ledger effect"
    UNKNOWN = "unknown", "Observation of unknown objects or places"


class EpcisEvent(models.Model):
    """A captured event, kept as sent. ``event_id`` is unique (EPCIS event ids are
    globally unique by the standard), which makes capture idempotent per event."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=32)
    event_time = models.DateTimeField()
    site = models.ForeignKey("tracker.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    capture = models.ForeignKey(EpcisCapture, on_delete=models.PROTECT, related_name="events")
    biz_step = models.CharField(max_length=255, blank=True)
    transformation_id = models.CharField(max_length=255, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=EpcisOutcome.choices)
    effects = models.JSONField(default=dict, blank=True)
    body = models.JSONField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-event_time", "-id"]
        verbose_name = "EPCIS event"
        indexes = [models.Index(fields=["site", "event_time"])]

    def __str__(self) -> str:
        return self.event_id


class Containment(models.Model):
    """A child (an EPC or a quantity of a class) packed in a parent (SSCC, GRAI...)
    from ``packed_at`` until ``unpacked_at`` (open: still inside).

    The minimal faithful form of an AggregationEvent: the parent is a code (like
    a container TagAssignment), the child its EPC URI plus the serial unit or lot
    it resolved to, so shipping or moving the parent reaches its contents."""

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    parent = models.CharField(max_length=255)
    child = models.CharField(max_length=255, help_text="Child EPC URI, or the epcClass of a child quantity.")
    serial = models.ForeignKey(
        "inventory.SerialUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lot = models.ForeignKey("inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("inventory.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    packed_at = models.DateTimeField()
    unpacked_at = models.DateTimeField(null=True, blank=True)
    event = models.ForeignKey(EpcisEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["parent", "child"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "parent", "child"], condition=Q(unpacked_at__isnull=True), name="containment_open_once"
            ),
        ]
        indexes = [models.Index(fields=["site", "parent"]), models.Index(fields=["site", "child"])]

    def __str__(self) -> str:
        return f"{self.child} in {self.parent}"
