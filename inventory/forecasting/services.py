"""Writes of forecasts: recompute and store per (item, site); apply a reorder suggestion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from inventory.forecasting import engine
from inventory.forecasting.models import DemandForecast
from inventory.forecasting.selectors import week_start, weekly_demand
from inventory.models import Item
from tracker.audit import audit_record
from tracker.errors import ValidationFailed
from tracker.models import Site
from tracker.transactions import service_atomic

HISTORY_SHOWN = 104


def _store(*, item_id: int, site: Site, weeks: list[dt.date], y: np.ndarray, now: dt.datetime) -> DemandForecast:
    # From the first week with demand, as the engine reads it (``engine.trim_history``): the weeks
    # before it are "not sold yet", and two years of zeros would flatten the chart's history.
    shown = len(engine.trim_history(np.asarray(y, dtype=float)))
    history = [[w.isoformat(), float(q)] for w, q in zip(weeks, y, strict=True)][len(y) - shown :][-HISTORY_SHOWN:]
    defaults: dict[str, Any] = {
        "computed_at": now,
        "history": history,
        "scores": {},
        "forecast": [],
        "method": "",
        "season_length": None,
        "mase": None,
        "baseline_mase": None,
        "sigma_weekly": None,
        "message": "",
    }
    try:
        result = engine.forecast_series(y)
    except engine.InsufficientHistory as exc:
        defaults.update(status=DemandForecast.Status.INSUFFICIENT_HISTORY, message=str(exc)[:300])
    else:
        first = (weeks[-1] if weeks else week_start(now.date())) + dt.timedelta(weeks=1)
        defaults.update(
            status=DemandForecast.Status.OK,
            method=result.method,
            season_length=result.season_length,
            mase=result.mase,
            baseline_mase=result.baseline_mase,
            sigma_weekly=result.sigma_weekly,
            scores=result.scores,
            forecast=[
                [(first + dt.timedelta(weeks=i)).isoformat(), m, lo, hi]
                for i, (m, lo, hi) in enumerate(zip(result.mean, result.lower, result.upper, strict=True))
            ],
        )
    forecast, _ = DemandForecast.objects.update_or_create(item_id=item_id, site=site, defaults=defaults)
    return forecast


def forecasts_refresh(*, site: Site, items: list[Item] | None = None, now: dt.datetime | None = None) -> int:
    """Recompute the forecasts of ``site`` (all active items with demand, or ``items``).

    Each (item, site) row is replaced in its own short transaction, so a long
    nightly run holds no lock for long and a failure leaves the others stored.
    Items without any demand get an 'insufficient history' row only when named.
    """
    now = now or timezone.now()
    ids = [i.pk for i in items] if items is not None else None
    series = weekly_demand(site=site, item_ids=ids, today=timezone.localdate(now))
    targets = (
        ids
        if ids is not None
        else list(Item.objects.filter(pk__in=series.keys(), active=True).values_list("pk", flat=True))
    )
    for item_id in targets:
        weeks, y = series.get(item_id, ([], np.zeros(0)))
        with transaction.atomic():
            _store(item_id=item_id, site=site, weeks=weeks, y=y, now=now)
    return len(targets)


def forecast_suggestion(*, forecast: DemandForecast, service_level: float = 0.95) -> engine.ReorderSuggestion | None:
    """The reorder point / safety stock the forecast implies for the item's lead time (None: no forecast)."""
    if forecast.status != DemandForecast.Status.OK or forecast.mean_weekly is None:
        return None
    horizon_weeks = max(1, -(-forecast.item.lead_time_days // 7))
    lead_mean = sum(row[1] for row in forecast.forecast[:horizon_weeks]) / min(horizon_weeks, len(forecast.forecast))
    return engine.reorder_suggestion(
        mean_weekly=lead_mean,
        sigma_weekly=forecast.sigma_weekly or 0.0,
        lead_time_days=forecast.item.lead_time_days,
        service_level=service_level,
        discrete=forecast.item.is_discrete,
    )


@service_atomic
def forecast_suggestion_apply(*, forecast: DemandForecast, actor: Any, service_level: float = 0.95) -> Item:
    """Write the suggested reorder point and safety stock to the item (through
    ``inventory.services.item_update``, which audits the field change) and record
    the suggestion with its arithmetic in the audit trail."""
    from inventory.services import item_update

    suggestion = forecast_suggestion(forecast=forecast, service_level=service_level)
    if suggestion is None:
        raise ValidationFailed("This item has no forecast to suggest from.", code="no_forecast")
    item = item_update(
        item=forecast.item, actor=actor, reorder_point=suggestion.reorder_point, safety_stock=suggestion.safety_stock
    )
    audit_record(
        actor=actor,
        action="forecast.suggestion_applied",
        obj=item,
        site=forecast.site,
        changes={
            "service_level": service_level,
            "method": forecast.method,
            "reorder_point": str(suggestion.reorder_point),
            "safety_stock": str(suggestion.safety_stock),
            "arithmetic": suggestion.arithmetic,
        },
    )
    return item
