"""Sensor rules that tell whether a station's machine runs (OEE): a current or
vibration sample above a threshold for a while means running, back below the
lower threshold means stopped."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tracker.scoping import RestrictedQuerySet


class MachineStateRule(models.Model):
    """``metric`` of sensor ``sensor_id`` at or above ``running_at`` for
    ``duration_s`` = the station runs (from when it crossed); at or below
    ``stopped_at`` = it stopped (``below_means``: a stop, or idle). The two
    thresholds are the hysteresis, as a threshold rule's create and clear.
    The fields after ``active`` are where the rule stands (kept on the rule:
    one sensor, one station)."""

    class Below(models.TextChoices):
        STOPPED = "stopped", "Stopped (an unplanned stop the operator gives a reason for)"
        IDLE = "idle", "Idle (no stop: the runs and the queue decide)"

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    workstation = models.ForeignKey("wip.Workstation", on_delete=models.CASCADE, related_name="+")
    sensor_id = models.CharField(max_length=255, help_text="The sensor as its samples name it.")
    metric = models.CharField(max_length=64, help_text="current, vibration, power, ...")
    running_at = models.DecimalField(max_digits=14, decimal_places=4)
    stopped_at = models.DecimalField(max_digits=14, decimal_places=4)
    duration_s = models.PositiveIntegerField(default=0, help_text="How long the value must stay above to count.")
    below_means = models.CharField(max_length=16, choices=Below.choices, default=Below.STOPPED)
    active = models.BooleanField(default=True)
    running = models.BooleanField(default=False)
    breaching_since = models.BigIntegerField(null=True, blank=True, help_text="ms since the epoch")
    last_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    last_sample_at = models.BigIntegerField(null=True, blank=True, help_text="ms since the epoch")

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stopped_at__lte=models.F("running_at")), name="machine_rule_hysteresis_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name
