"""Tags, what each is attached to over time, and the state the pipeline keeps per tag."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from devices.models.readers import Device
from tracker.scoping import RestrictedQuerySet


class TagKind(models.TextChoices):
    RFID = "rfid", "RFID EPC"
    BLE = "ble", "BLE MAC"
    IBEACON = "ibeacon", "iBeacon"
    BARCODE = "barcode", "Barcode label"


def tag_kind_of(tag_id: str) -> str:
    if tag_id.startswith(("urn:epc:", "epc:hex:")):
        return TagKind.RFID
    if tag_id.startswith("ble:"):
        return TagKind.BLE
    if tag_id.startswith("ibeacon:"):
        return TagKind.IBEACON
    return TagKind.BARCODE


class Tag(models.Model):
    """A physical tag, by its canonical id (see ``devices.parsers.base.TagRead``).

    Rows are created the first time a tag is heard so its zone is already known
    when an admin assigns it; an unassigned tag also has an ``UnknownTag`` row.
    """

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="tags")
    tag_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=TagKind.choices)
    epc_hex = models.CharField(max_length=128, blank=True)
    notes = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["tag_id"]
        constraints = [models.UniqueConstraint(fields=["site", "tag_id"], name="tag_once_per_site")]

    def __str__(self) -> str:
        return self.tag_id


class TargetKind(models.TextChoices):
    SERIAL = "serial", "Serial unit"
    LOT = "lot", "Lot"
    WORK_ORDER = "work_order", "Work order (traveler or tote)"
    CONTAINER = "container", "Container (pallet, tote, bin)"
    ASSET = "asset", "Asset"


class TagAssignmentQuerySet(RestrictedQuerySet):
    def current(self) -> Self:
        return self.filter(valid_to__isnull=True)


class TagAssignment(models.Model):
    """What a tag tracks, for a period. A reusable tote gets a new row per work order;
    the open row (``valid_to`` empty) is the current one, the others are history."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="assignments")
    target_kind = models.CharField(max_length=16, choices=TargetKind.choices)
    serial = models.ForeignKey(
        "inventory.SerialUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    lot = models.ForeignKey(
        "inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    work_order = models.ForeignKey(
        "wip.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    # Containers and assets are identified by a code (no model of their own).
    code = models.CharField(max_length=100, blank=True, help_text="Container or asset code (SSCC, GRAI, GIAI...).")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    objects = TagAssignmentQuerySet.as_manager()
    site_path = "tag__site"

    class Meta:
        ordering = ["tag", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["tag"], condition=Q(valid_to__isnull=True), name="one_current_assignment"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="assignment_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(target_kind="serial", serial__isnull=False)
                | Q(target_kind="lot", lot__isnull=False)
                | Q(target_kind="work_order", work_order__isnull=False)
                | (Q(target_kind__in=["container", "asset"]) & ~Q(code="")),
                name="assignment_names_its_target",
            ),
        ]
        indexes = [models.Index(fields=["target_kind", "code"])]

    def __str__(self) -> str:
        return f"{self.tag_id} -> {self.target_kind}"

    @property
    def target_object(self):
        """The serial unit, lot or work order tracked (None for containers and assets)."""
        for name in ("serial", "lot", "work_order"):
            if getattr(self, f"{name}_id", None) is not None:
                return getattr(self, name)
        return None

    @property
    def target_label(self) -> str:
        return self.code or str(self.target_object or "")


class TagState(models.Model):
    """Where a tag is now, and the arbitration state that decided it (compact JSON)."""

    tag = models.OneToOneField(Tag, on_delete=models.CASCADE, primary_key=True, related_name="state")
    # Few indexes on purpose: every upload rewrites hundreds of these rows, and an update
    # that touches no indexed column is a HOT update on PostgreSQL (no index writes).
    # Site lookups use the (site, location) index.
    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+", db_index=False)
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    since = models.DateTimeField(null=True, blank=True, help_text="Time of the last committed move.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    arbitration = models.JSONField(default=dict, blank=True)
    missing_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        indexes = [models.Index(fields=["site", "location"])]

    def __str__(self) -> str:
        return f"{self.tag_id} @ {self.location_id}"
