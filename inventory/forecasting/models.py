"""The stored forecast per (item, site): recomputed nightly, read by the pages and the API."""

from __future__ import annotations

from django.db import models

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet


class DemandForecast(models.Model):
    class Status(models.TextChoices):
        OK = "ok", "Forecast"
        INSUFFICIENT_HISTORY = "insufficient_history", "Too little history"

    item = models.ForeignKey("inventory.Item", on_delete=models.CASCADE, related_name="forecasts")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()
    status = models.CharField(max_length=24, choices=Status.choices)
    message = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=24, blank=True)
    season_length = models.PositiveSmallIntegerField(null=True, blank=True)
    mase = models.FloatField(null=True, blank=True)
    baseline_mase = models.FloatField(null=True, blank=True, help_text="Seasonal-naive MASE on the same backtest")
    sigma_weekly = models.FloatField(null=True, blank=True, help_text="RMSE of one-week-ahead backtest errors")
    scores = models.JSONField(default=dict, blank=True)
    #: [[week start ISO date, quantity], ...]
    history = models.JSONField(default=list, blank=True)
    #: [[week start ISO date, mean, lower, upper], ...]
    forecast = models.JSONField(default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["item", "site"]
        constraints = [models.UniqueConstraint(fields=["item", "site"], name="demandforecast_one_per_item_site")]

    def __str__(self) -> str:
        return f"forecast {self.item_id}@{self.site_id} {self.method or self.status}"

    @property
    def mean_weekly(self) -> float | None:
        return sum(row[1] for row in self.forecast) / len(self.forecast) if self.forecast else None
