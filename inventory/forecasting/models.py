"""The stored forecast per (item, site): recomputed nightly, read by the pages and the API."""

from __future__ import annotations

from django.db import models

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet

#: What the pages call each method (the stored names are the engine's).
METHOD_LABELS = {
    "exp_smoothing": "Exponential smoothing",
    "croston_sba": "Croston (SBA, intermittent demand)",
    "seasonal": "Seasonal (Holt-Winters)",
    "seasonal_naive": "Seasonal naive",
}


def method_label(name: str) -> str:
    """``croston_sba`` -> "Croston (SBA, intermittent demand)"; a score key ``seasonal/52`` keeps its season."""
    base, _, season = name.partition("/")
    label = METHOD_LABELS.get(base, base.replace("_", " ").capitalize())
    return f"{label}, {season}-week season" if season else label


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
    def method_label(self) -> str:
        return method_label(self.method) if self.method else ""

    @property
    def score_labels(self) -> list[tuple[str, float]]:
        """The candidates' backtest MASE by method label, best first."""
        return sorted(((method_label(k), v) for k, v in self.scores.items()), key=lambda kv: kv[1])

    @property
    def mean_weekly(self) -> float | None:
        return sum(row[1] for row in self.forecast) / len(self.forecast) if self.forecast else None
