"""Forecasts: backtested on synthetic series; the reorder suggestion matches a hand computation;
too little history says so; the nightly task stores forecasts; applying a suggestion is audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from inventory.forecasting import engine

N = 104
T = np.arange(N)


def _rng():
    return np.random.default_rng(7)


def test_trend_series_beats_seasonal_naive():
    y = 20 + 0.6 * T + _rng().normal(0, 3, N)
    f = engine.forecast_series(y)
    assert f.mase < f.baseline_mase
    assert f.mean[-1] > f.mean[0]  # the trend goes on


@pytest.mark.parametrize("period", [4, 13])
def test_seasonal_series_beats_seasonal_naive(period):
    # Three noise draws: a backtest of 6 origins × 4 weeks is itself noisy, so the
    # claim is about the average, not one lucky draw.
    fits = []
    for seed in range(3):
        y = 15 * np.sin(2 * np.pi * T / period) + 60 + np.random.default_rng(seed).normal(0, 3, N)
        f = engine.forecast_series(y)
        assert f.method == "seasonal" and f.season_length == period
        assert all(lo <= m <= hi for m, lo, hi in zip(f.mean, f.lower, f.upper, strict=True))
        fits.append(f)
    assert np.mean([f.mase for f in fits]) < np.mean([f.baseline_mase for f in fits])


def test_intermittent_series_is_forecast_flat_and_positive():
    rng = _rng()
    y = np.where(rng.random(N) < 0.2, rng.poisson(8, N) + 1, 0).astype(float)
    f = engine.forecast_series(y)
    assert f.method in {"croston_sba", "exp_smoothing"}
    assert f.mase < f.baseline_mase
    rate = y.sum() / len(engine.trim_history(y))
    assert 0.4 * rate < f.mean[0] < 2 * rate


def test_croston_sba_by_hand():
    # sizes 4, 6 at t=1, 4 → z0 = 4, p0 = 2; next: z = 4 + .1(6-4) = 4.2, p = 2 + .1(3-2) = 2.1
    y = np.array([0, 4, 0, 0, 6, 0], dtype=float)
    assert engine.croston_sba(y, 2) == pytest.approx([0.95 * 4.2 / 2.1] * 2)


def test_too_little_history_says_so():
    with pytest.raises(engine.InsufficientHistory, match="weeks of history"):
        engine.forecast_series(np.array([0, 0, 5, 3, 0, 4, 2, 1], dtype=float))


def test_reorder_suggestion_matches_hand_computation():
    # 95 %: z = 1.6449; L = 14 d = 2 weeks; μ_LT = 10 × 2 = 20; σ_LT = 4 × √2 = 5.6569;
    # SS = 1.6449 × 5.6569 = 9.3047 → 10; ROP = 20 + 9.3047 = 29.3047 → 30
    s = engine.reorder_suggestion(mean_weekly=10, sigma_weekly=4, lead_time_days=14, service_level=0.95)
    assert s.z == pytest.approx(1.644854, abs=1e-6)
    assert s.sigma_lead_time == pytest.approx(5.656854, abs=1e-6)
    assert (s.safety_stock, s.reorder_point) == (Decimal("10"), Decimal("30"))
    assert "29.3047" in s.arithmetic[-1]
    exact = engine.reorder_suggestion(mean_weekly=10, sigma_weekly=4, lead_time_days=14, discrete=False)
    assert exact.safety_stock == Decimal("9.3047") and exact.reorder_point == Decimal("29.3047")  # 4 dp


@pytest.mark.django_db
def test_nightly_task_stores_forecasts_and_suggestion_applies(site_a, make_user, bins):
    from inventory import services
    from inventory.forecasting.models import DemandForecast
    from inventory.forecasting.services import forecast_suggestion, forecast_suggestion_apply
    from inventory.forecasting.tasks import forecasts_refresh_all_sites
    from tests.factories.inventory import ItemFactory, receive
    from tracker.models import AuditEvent

    _, bin1, _ = bins
    busy = ItemFactory(sku="BUSY", lead_time_days=14)
    new = ItemFactory(sku="NEW")
    now = timezone.now()
    monday = timezone.localdate(now) - dt.timedelta(days=timezone.localdate(now).weekday())
    receive(busy, bin1, 10_000, occurred_at=now - dt.timedelta(weeks=60))
    receive(new, bin1, 100, occurred_at=now - dt.timedelta(weeks=60))
    rng = np.random.default_rng(3)
    for w in range(1, 41):
        day = dt.datetime.combine(monday - dt.timedelta(weeks=w), dt.time(10), tzinfo=dt.UTC)
        services.stock_issue(item=busy, quantity=Decimal(int(50 + rng.normal(0, 5))), location=bin1, occurred_at=day)
    services.stock_issue(
        item=new,
        quantity=Decimal(3),
        location=bin1,
        occurred_at=dt.datetime.combine(monday - dt.timedelta(weeks=1), dt.time(10), tzinfo=dt.UTC),
    )
    assert forecasts_refresh_all_sites.delay().get() == 1
    fc = DemandForecast.objects.get(item=busy, site=site_a)
    assert fc.status == "ok" and len(fc.forecast) == engine.HORIZON and fc.sigma_weekly > 0
    assert 40 < fc.mean_weekly < 60
    short = DemandForecast.objects.get(item=new, site=site_a)
    assert short.status == "insufficient_history" and not short.forecast and "weeks of history" in short.message

    planner = make_user("planner", site_a)
    suggestion = forecast_suggestion(forecast=fc)
    item = forecast_suggestion_apply(forecast=fc, actor=planner)
    assert (item.reorder_point, item.safety_stock) == (suggestion.reorder_point, suggestion.safety_stock)
    event = AuditEvent.objects.get(action="forecast.suggestion_applied")
    assert event.actor == planner and event.changes["arithmetic"] == suggestion.arithmetic
    assert AuditEvent.objects.filter(action="item.updated", object_id=str(busy.pk)).exists()


@pytest.mark.django_db
def test_stored_history_starts_at_the_first_week_with_demand(site_a):
    """The weeks before an item's first demand are "not sold yet" (the engine ignores them): two
    years of zeros in front of the history flattened the page's chart into a line on the floor."""
    from inventory.forecasting.services import _store
    from tests.factories.inventory import ItemFactory

    item = ItemFactory(sku="LATE")
    monday = dt.date(2026, 1, 5)
    weeks = [monday + dt.timedelta(weeks=i) for i in range(60)]
    y = np.array([0.0] * 40 + [5.0, 0.0] + [4.0 + i % 3 for i in range(18)])
    fc = _store(item_id=item.pk, site=site_a, weeks=weeks, y=y, now=timezone.now())
    assert fc.status == "ok"
    assert fc.history[0] == [weeks[40].isoformat(), 5.0] and len(fc.history) == 20
    none = _store(item_id=item.pk, site=site_a, weeks=weeks, y=np.zeros(60), now=timezone.now())
    assert none.history == []


@pytest.mark.django_db
def test_forecast_pages_name_the_method_and_round_to_the_unit(client, site_a, make_user):
    from inventory.forecasting.models import DemandForecast
    from tests.factories.inventory import ItemFactory

    screws = ItemFactory(sku="SCREW", unit="pcs")
    glue = ItemFactory(sku="GLUE", unit="kg")
    common = {"site": site_a, "computed_at": timezone.now(), "status": "ok", "mase": 0.99571, "baseline_mase": 1.17391}
    DemandForecast.objects.create(
        item=screws,
        method="croston_sba",
        sigma_weekly=698.7628,
        scores={"exp_smoothing": 1.031, "croston_sba": 0.9957},
        forecast=[["2026-12-07", 2495.7484, 2000.0, 4070.17]],
        **common,
    )
    DemandForecast.objects.create(
        item=glue, method="seasonal", season_length=13, forecast=[["2026-12-07", 9.62644, 5.0, 14.0]], **common
    )
    client.force_login(make_user("planner", site_a))
    body = client.get("/inventory/analytics/forecasts/").content.decode()
    assert "Croston (SBA, intermittent demand)" in body and "croston_sba" not in body
    assert "Seasonal (Holt-Winters) (13-week season)" in body
    assert "2,496 pcs" in body and "2,495.7484" not in body and "9.626 kg" in body
    assert ">1.00<" in body and ">1.17<" in body and "0.99571" not in body
    detail = client.get("/inventory/analytics/forecasts/SCREW/").content.decode()
    assert "<strong>Croston (SBA, intermittent demand)</strong>" in detail and "σ = 699 pcs" in detail
    assert "Croston (SBA, intermittent demand) 1.00, Exponential smoothing 1.03" in detail
    # The chart's top label: the upper bound by the unit's precision, with its unit.
    assert 'class="chart-top">4,070 pcs</text>' in detail and "4070.17" not in detail
