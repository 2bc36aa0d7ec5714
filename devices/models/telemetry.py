"""Sensor samples and the threshold rules that raise alerts on them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from devices.models.readers import Device
from devices.models.uploads import ReaderUpload
from tracker.models import Severity
from tracker.scoping import RestrictedQuerySet


class SensorSample(models.Model):
    """A measured value, stored by the time it was measured (not received)."""

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples")
    sensor_id = models.CharField(max_length=255)
    metric = models.CharField(max_length=64)
    value = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=16, blank=True)
    observed_at = models.DateTimeField()
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # No database constraint: uploads are partitioned on PostgreSQL (primary key (id,
    # received_at)) and their partitions expire before the samples'; the id may then
    # name an upload no longer kept.
    upload = models.ForeignKey(
        ReaderUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            # A gateway re-sending a sample (new upload key, same measurement) stores it once.
            models.UniqueConstraint(fields=["site", "sensor_id", "metric", "observed_at"], name="sample_once")
        ]
        indexes = [models.Index(fields=["site", "metric", "-observed_at"])]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.metric}={self.value}"


class RuleScope(models.TextChoices):
    DEVICE = "device", "A device"
    ZONE = "zone", "A zone"
    ZONE_LOTS = "zone_lots", "The lots stored in a zone"


class RuleDirection(models.TextChoices):
    ABOVE = "above", "Alert when above"
    BELOW = "below", "Alert when below"


class ThresholdRule(models.Model):
    """Alert when ``metric`` crosses ``create_threshold`` for ``duration_s``; clear
    only when it is back past ``clear_threshold`` (hysteresis)."""

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=64, help_text="temperature, humidity, battery_voltage, pressure, ...")
    scope = models.CharField(max_length=16, choices=RuleScope.choices)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=8, choices=RuleDirection.choices, default=RuleDirection.ABOVE)
    create_threshold = models.DecimalField(max_digits=14, decimal_places=4)
    clear_threshold = models.DecimalField(max_digits=14, decimal_places=4)
    duration_s = models.PositiveIntegerField(default=0, help_text="How long the value must stay past the threshold.")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    active = models.BooleanField(default=True)
    hold_contents = models.BooleanField(
        default=False,
        help_text="Hold what is inside: when the alert is raised, every lot and serial in stock in the zone "
        "goes on hold until a quality inspector releases or scraps it (zone rules only).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(scope="device") | Q(device__isnull=False), name="device_rule_has_device"
            ),
            models.CheckConstraint(
                condition=Q(scope="device") | Q(location__isnull=False), name="zone_rule_has_location"
            ),
            models.CheckConstraint(
                condition=(Q(direction="above") & Q(clear_threshold__lte=models.F("create_threshold")))
                | (Q(direction="below") & Q(clear_threshold__gte=models.F("create_threshold"))),
                name="rule_hysteresis_ordered",
            ),
            models.CheckConstraint(
                condition=Q(hold_contents=False) | ~Q(scope="device"), name="hold_contents_needs_a_zone"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def alert_kind(self) -> str:
        return f"threshold.{self.pk}"


class ThresholdRuleState(models.Model):
    """Where one rule stands for one subject: since when it breaches, whether it alerts."""

    rule = models.ForeignKey(ThresholdRule, on_delete=models.CASCADE, related_name="states")
    subject = models.CharField(max_length=200)
    breaching_since = models.DateTimeField(null=True, blank=True)
    alerting = models.BooleanField(default=False)
    last_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    last_sample_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "rule__site"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="rule_state_once_per_subject")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.subject}"
