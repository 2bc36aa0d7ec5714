"""Forecasting arithmetic on plain arrays: candidate models, rolling-origin backtest, MASE.

Candidates per series (each only where the history allows it):

- ``seasonal``: Holt-Winters additive (statsmodels ``ExponentialSmoothing``, damped
  additive trend, additive seasonality, estimated initial states up to 13 weeks,
  heuristic ones for 52: an estimated start for 52 states costs seconds per fit). One season length: of
  ``SEASON_LENGTHS`` with two full seasons before the first backtest origin, the
  one with the highest autocorrelation of the differenced series at its lag, if
  that reaches ``SEASONAL_ACF_MIN`` (so a series costs a handful of fits, not one
  per length, and noise is not mistaken for a season);
- ``exp_smoothing``: Holt's damped additive trend (simple exponential smoothing when
  the series is short);
- ``croston_sba``: Croston's method with the Syntetos-Boylan bias correction for
  intermittent demand: smooth non-zero sizes ``z`` and intervals ``p`` separately
  (alpha 0.1) and forecast ``(1 - alpha/2) * z / p`` per period.

The rolling-origin backtest refits each candidate at the last ``folds`` origins
and forecasts ``horizon`` weeks ahead from each; the error scale is the in-sample
mean absolute error of the naive (lag-1) forecast on that fold's training data
(Hyndman & Koehler 2006, MASE). The candidate with the lowest mean MASE wins;
the seasonal-naive forecast is scored the same way as the baseline. The
interval is ``forecast ± z * RMSE`` of the winner's backtest errors at each
horizon step (empirical, so it is as wide as the model has actually been
wrong), floored at zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

import numpy as np

SEASON_LENGTHS = (52, 13, 4)
MIN_WEEKS = 16  # fewer weeks of history (since the first demand): too little to forecast
MIN_NONZERO = 3
HORIZON = 12
BACKTEST_HORIZON = 4
FOLDS = 6
CROSTON_ALPHA = 0.1
SEASONAL_ACF_MIN = 0.3  # autocorrelation of the differenced series at the season lag


class InsufficientHistory(ValueError):
    """Too little history to forecast honestly."""


def _holt(train: np.ndarray, h: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short/flat series
        if len(train) < 10:
            model = ExponentialSmoothing(train, trend=None, initialization_method="estimated")
        else:
            model = ExponentialSmoothing(train, trend="add", damped_trend=True, initialization_method="estimated")
        return np.asarray(model.fit().forecast(h), dtype=float)


def _holt_winters(m: int) -> Callable[[np.ndarray, int], np.ndarray]:
    def fit(train: np.ndarray, h: int) -> np.ndarray:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                train,
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=m,
                # an estimated start is accurate but costs seconds with 52 seasonal states
                initialization_method="heuristic" if m > 13 else "estimated",
            )
            return np.asarray(model.fit(use_brute=False).forecast(h), dtype=float)

    return fit


def croston_sba(train: np.ndarray, h: int, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """Croston with the Syntetos-Boylan approximation: flat forecast ``(1-α/2)·z/p``."""
    nonzero = np.flatnonzero(train > 0)
    if len(nonzero) == 0:
        return np.zeros(h)
    z = float(train[nonzero[0]])
    p = float(nonzero[0] + 1)
    last = nonzero[0]
    for idx in nonzero[1:]:
        z += alpha * (float(train[idx]) - z)
        p += alpha * (float(idx - last) - p)
        last = idx
    return np.full(h, (1 - alpha / 2) * z / p)


def seasonal_naive(m: int) -> Callable[[np.ndarray, int], np.ndarray]:
    def fit(train: np.ndarray, h: int) -> np.ndarray:
        lag = m if len(train) >= m else 1
        season = train[-lag:]
        return np.array([season[i % lag] for i in range(h)], dtype=float)

    return fit


@dataclass
class Candidate:
    name: str
    season_length: int | None
    fit: Callable[[np.ndarray, int], np.ndarray]


@dataclass
class Score:
    name: str
    season_length: int | None
    mase: float
    errors: np.ndarray  # folds × horizon


@dataclass
class Forecast:
    method: str
    season_length: int | None
    mean: list[float]
    lower: list[float]
    upper: list[float]
    mase: float
    baseline_mase: float
    sigma_weekly: float  # RMSE of one-step-ahead backtest errors of the chosen method
    scores: dict[str, float] = field(default_factory=dict)


def _acf(y: np.ndarray, lag: int) -> float:
    x = y - y.mean()
    denom = float((x * x).sum())
    return float((x[lag:] * x[:-lag]).sum() / denom) if denom > 0 and lag < len(y) else 0.0


def season_length(y: np.ndarray, n_train_min: int) -> int | None:
    """The feasible season length with the strongest autocorrelation (None: none feasible).

    Holt-Winters' heuristic start needs ``10 + 2·(m // 2)`` points."""
    feasible = [m for m in SEASON_LENGTHS if n_train_min >= max(2 * m + 2, 10 + 2 * (m // 2))]
    if not feasible:
        return None
    detrended = np.diff(y) if len(y) > 2 else y
    best = max(feasible, key=lambda m: _acf(detrended, m))
    # Below this the "season" is noise (intermittent demand shows chance peaks at any lag).
    return best if _acf(detrended, best) >= SEASONAL_ACF_MIN else None


def candidates(y: np.ndarray, n_train_min: int) -> list[Candidate]:
    out = [Candidate("exp_smoothing", None, _holt), Candidate("croston_sba", None, croston_sba)]
    m = season_length(y, n_train_min)
    if m is not None:
        out.append(Candidate("seasonal", m, _holt_winters(m)))
    return out


def _mase_scale(train: np.ndarray) -> float:
    diffs = np.abs(np.diff(train))
    scale = float(diffs.mean()) if len(diffs) else 0.0
    return scale if scale > 0 else 1.0  # a constant series: fall back to absolute error


def backtest(y: np.ndarray, candidate: Candidate, *, folds: int, horizon: int) -> Score:
    n = len(y)
    errors, scaled = [], []
    for k in range(folds, 0, -1):
        origin = n - horizon - (k - 1)
        train, test = y[:origin], y[origin : origin + horizon]
        try:
            pred = candidate.fit(train, horizon)
        except Exception:  # a model that cannot fit this fold loses the comparison
            return Score(candidate.name, candidate.season_length, math.inf, np.zeros((0, horizon)))
        err = test - pred[: len(test)]
        errors.append(err)
        scaled.append(np.abs(err).mean() / _mase_scale(train))
    return Score(candidate.name, candidate.season_length, float(np.mean(scaled)), np.array(errors))


def trim_history(y: np.ndarray) -> np.ndarray:
    """History from the first week with demand (leading zeros are 'not sold yet')."""
    nonzero = np.flatnonzero(y > 0)
    return y[nonzero[0] :] if len(nonzero) else y[:0]


def forecast_series(
    y: np.ndarray,
    *,
    horizon: int = HORIZON,
    folds: int = FOLDS,
    backtest_horizon: int = BACKTEST_HORIZON,
    z: float = 1.96,
) -> Forecast:
    """Choose a method by backtest and forecast ``horizon`` weeks; ``InsufficientHistory`` if too short."""
    y = trim_history(np.asarray(y, dtype=float))
    if len(y) < MIN_WEEKS or int((y > 0).sum()) < MIN_NONZERO:
        raise InsufficientHistory(
            f"{len(y)} weeks of history with {int((y > 0).sum())} weeks of demand; "
            f"at least {MIN_WEEKS} weeks and {MIN_NONZERO} weeks with demand are needed."
        )
    n_train_min = len(y) - backtest_horizon - folds + 1
    scores = [backtest(y, c, folds=folds, horizon=backtest_horizon) for c in candidates(y, n_train_min)]
    best = min(scores, key=lambda s: s.mase)
    m0 = season_length(y, n_train_min) or 1  # the baseline repeats the season the series shows
    baseline = backtest(y, Candidate("seasonal_naive", m0, seasonal_naive(m0)), folds=folds, horizon=backtest_horizon)
    chosen = next(
        c for c in candidates(y, n_train_min) if c.name == best.name and c.season_length == best.season_length
    )
    mean = np.maximum(chosen.fit(y, horizon), 0.0)
    rmse_by_step = np.sqrt((best.errors**2).mean(axis=0))
    spread = np.array([rmse_by_step[min(i, len(rmse_by_step) - 1)] for i in range(horizon)])
    return Forecast(
        method=best.name,
        season_length=best.season_length,
        mean=[round(float(v), 4) for v in mean],
        lower=[round(float(v), 4) for v in np.maximum(mean - z * spread, 0.0)],
        upper=[round(float(v), 4) for v in mean + z * spread],
        mase=round(best.mase, 4),
        baseline_mase=round(baseline.mase, 4),
        sigma_weekly=round(float(rmse_by_step[0]), 4),
        scores={f"{s.name}{'/' + str(s.season_length) if s.season_length else ''}": round(s.mase, 4) for s in scores},
    )


# --- reorder point and safety stock ---------------------------------------------------


@dataclass
class ReorderSuggestion:
    service_level: float
    z: float
    lead_time_days: int
    lead_time_weeks: float
    mean_weekly: float
    sigma_weekly: float
    demand_during_lead_time: float
    sigma_lead_time: float
    safety_stock: Decimal
    reorder_point: Decimal
    arithmetic: list[str]


def reorder_suggestion(
    *,
    mean_weekly: float,
    sigma_weekly: float,
    lead_time_days: int,
    service_level: float = 0.95,
    discrete: bool = True,
) -> ReorderSuggestion:
    """Safety stock ``z·σ_LT`` and reorder point ``μ_LT + SS`` for a cycle service level.

    ``μ_LT = mean weekly forecast × L``, ``σ_LT = σ_week × √L`` with ``L`` the lead
    time in weeks and ``σ_week`` the forecast's one-step error (independent
    weekly errors). Discrete items round both up to whole units.
    """
    from scipy.stats import norm

    if not 0.5 <= service_level < 1:
        raise ValueError("service level must be in [0.5, 1)")
    z = float(norm.ppf(service_level))
    weeks = lead_time_days / 7
    mu_lt = mean_weekly * weeks
    sigma_lt = sigma_weekly * math.sqrt(weeks)
    ss = z * sigma_lt
    rop = mu_lt + ss
    quant = Decimal("1") if discrete else Decimal("0.0001")
    ss_d = Decimal(str(ss)).quantize(quant, rounding=ROUND_CEILING)
    rop_d = Decimal(str(rop)).quantize(quant, rounding=ROUND_CEILING)
    arithmetic = [
        f"z for {service_level:.1%} service = {z:.4f}",
        f"lead time L = {lead_time_days} d / 7 = {weeks:.4f} weeks",
        f"demand during lead time μ_LT = {mean_weekly:.4f}/week × {weeks:.4f} = {mu_lt:.4f}",
        f"σ_LT = σ_week × √L = {sigma_weekly:.4f} × {math.sqrt(weeks):.4f} = {sigma_lt:.4f}",
        f"safety stock = z × σ_LT = {z:.4f} × {sigma_lt:.4f} = {ss:.4f} → {ss_d}",
        f"reorder point = μ_LT + safety stock = {mu_lt:.4f} + {ss:.4f} = {rop:.4f} → {rop_d}",
    ]
    return ReorderSuggestion(
        service_level=service_level,
        z=z,
        lead_time_days=lead_time_days,
        lead_time_weeks=weeks,
        mean_weekly=mean_weekly,
        sigma_weekly=sigma_weekly,
        demand_during_lead_time=mu_lt,
        sigma_lead_time=sigma_lt,
        safety_stock=ss_d,
        reorder_point=rop_d,
        arithmetic=arithmetic,
    )
