"""What EPCIS capture keeps: each captured event once (by ``eventID``) with its
error declaration, the containment AggregationEvents record, the links
AssociationEvents record, every sensor report, the identifiers an event named
that Shopfloor did not know (until their master data arrives), and one row per
capture request.

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
    # EPCIS 2.0 §7.4.1.4: an event later declared erroneous keeps its eventID; the declaration
    # says when, why and which events correct it. Its ledger effects stay (they are undone by
    # the corrective events, as the standard has it), the event is marked.
    error_declared_at = models.DateTimeField(null=True, blank=True)
    error_reason = models.CharField(max_length=255, blank=True)
    corrective_event_ids = models.JSONField(default=list, blank=True)
    corrects = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The eventID of the erroneous event this one corrects."
    )

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


class Association(models.Model):
    """A child (a sensor, a tag, an object or a quantity of a class) associated with a
    parent (an asset, a container, a place) from ``associated_at`` until
    ``dissociated_at`` (open: still associated): what an AssociationEvent records.

    ``device`` is the Shopfloor device the parent or child names (a sensor whose
    ``device_id`` is its GIAI), so its readings can be read as the parent's."""

    site = models.ForeignKey("tracker.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    parent = models.CharField(max_length=255)
    child = models.CharField(max_length=255, help_text="Child EPC URI, or the epcClass of a child quantity.")
    quantity = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    uom = models.CharField(max_length=8, blank=True)
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    associated_at = models.DateTimeField()
    dissociated_at = models.DateTimeField(null=True, blank=True)
    event = models.ForeignKey(EpcisEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["parent", "child"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "parent", "child"],
                condition=Q(dissociated_at__isnull=True),
                name="association_open_once",
            ),
        ]
        indexes = [models.Index(fields=["child"])]

    def __str__(self) -> str:
        return f"{self.child} with {self.parent}"


class SensorException(models.TextChoices):
    NONE = "", "None"
    ALARM = "ALARM_CONDITION", "Alarm condition"
    ERROR = "ERROR_CONDITION", "Error condition"


class EpcisSensorReport(models.Model):
    """One ``sensorReport`` of a captured event, with its exception (alarm or error
    condition) and the values the standard names; the report as sent is in ``body``."""

    event = models.ForeignKey(EpcisEvent, on_delete=models.CASCADE, related_name="sensor_reports")
    site = models.ForeignKey("tracker.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    device_id = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=255, blank=True)
    time = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    min_value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    max_value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    mean_value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    uom = models.CharField(max_length=16, blank=True)
    exception = models.CharField(max_length=20, choices=SensorException.choices, blank=True, default="")
    alarm = models.BooleanField(default=False, help_text="An ALARM_CONDITION: the sensor's own alarm flag.")
    boolean_value = models.BooleanField(null=True, blank=True)
    body = models.JSONField(default=dict)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["event_id", "pk"]
        indexes = [models.Index(fields=["site", "alarm"]), models.Index(fields=["device_id", "time"])]

    def __str__(self) -> str:
        return f"{self.type} {self.value if self.value is not None else self.exception}"


class EpcisIdentifier(models.Model):
    """An identifier a captured event named that Shopfloor did not know then (an item,
    serial, lot, place or container with no master data, or of a site the sender may
    not use): the event is recorded, the identifier waits here, and is resolved
    (``resolved_at``, what it named) once its master data arrives."""

    event = models.ForeignKey(EpcisEvent, on_delete=models.CASCADE, related_name="identifiers")
    site = models.ForeignKey("tracker.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=40, help_text="Where the event names it: epcList, readPoint, parentID...")
    uri = models.CharField(max_length=500)
    key = models.CharField(max_length=255, db_index=True, help_text="Its canonical form (mapping.identifier_key).")
    kind = models.CharField(max_length=16)
    resolved_at = models.DateTimeField(null=True, blank=True)
    item = models.ForeignKey("inventory.Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["event_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["event", "role", "uri"], name="epcis_identifier_once")]
        indexes = [models.Index(fields=["resolved_at", "kind"])]

    def __str__(self) -> str:
        return self.uri


class EpcisCorrection(models.Model):
    """An error declaration's link: ``corrective_event_id`` corrects ``erroneous_event_id``
    (either may arrive first; both are eventIDs, not rows)."""

    erroneous_event_id = models.CharField(max_length=255)
    corrective_event_id = models.CharField(max_length=255, db_index=True)
    declared_at = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["erroneous_event_id", "corrective_event_id"], name="epcis_correction_once")
        ]

    def __str__(self) -> str:
        return f"{self.corrective_event_id} corrects {self.erroneous_event_id}"
