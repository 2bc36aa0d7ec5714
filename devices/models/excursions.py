"""Excursions: a threshold rule that holds what is inside its zone, and what it held.

An ``Excursion`` is opened when the alert of a rule with ``hold_contents`` is
raised (one per alert: a re-fire of the open alert finds it again). Its
``ExcursionEntry`` rows are the lots and serials it put on hold (``held``) and
those that left the zone after the breach began (``left``, listed for the
inspector, not held). The inspector's decision (release or scrap) is recorded
on each held entry; nothing is released when the temperature recovers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from devices.models.telemetry import ThresholdRule
from tracker.fields import DecimalSize
from tracker.scoping import RestrictedQuerySet

QTY: DecimalSize = {"max_digits": 18, "decimal_places": 4}


class Excursion(models.Model):
    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(ThresholdRule, on_delete=models.PROTECT, related_name="excursions")
    location = models.ForeignKey("tracker.Location", on_delete=models.PROTECT, related_name="+")
    alert = models.OneToOneField("tracker.Alert", on_delete=models.PROTECT, related_name="excursion")
    metric = models.CharField(max_length=64)
    started_at = models.DateTimeField(help_text="When the breach began (the rule's duration counts from here)")
    raised_at = models.DateTimeField()
    #: The readings that raised (and re-raised) it: [{"at", "value", "sensor"}, ...]
    readings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["site", "-started_at"])]

    def __str__(self) -> str:
        return f"excursion {self.pk} at {self.location_id}"


class ExcursionEntry(models.Model):
    class Kind(models.TextChoices):
        HELD = "held", "Held"
        LEFT = "left", "Left the zone during the excursion"

    class Decision(models.TextChoices):
        PENDING = "", "Pending"
        RELEASED = "released", "Released"
        SCRAPPED = "scrapped", "Scrapped"

    excursion = models.ForeignKey(Excursion, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    serial = models.ForeignKey(
        "inventory.SerialUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "tracker.Location",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="held: where it was in the zone; left: where its last move out went",
    )
    quantity = models.DecimalField(**QTY, help_text="held: on hand in the zone; left: moved out since the start")
    prior_status = models.CharField(max_length=16, blank=True, help_text="the lot's or serial's status before")
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "excursion__site"

    class Meta:
        ordering = ["kind", "item", "lot", "serial", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id}/{self.lot_id or self.serial_id}"
