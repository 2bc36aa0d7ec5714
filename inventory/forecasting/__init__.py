"""Weekly demand forecasts per item and site, chosen per series by a rolling-origin backtest.

- ``engine``: the arithmetic on plain arrays (no Django): candidates, backtest, MASE, intervals,
  reorder-point suggestion.
- ``selectors``: weekly demand (issues to production + shipments) aggregated in the database.
- ``services``: compute and store forecasts; apply a suggestion to the item (audited).
- ``tasks``: the nightly recompute (beat entry in ``inventory/schedule.py``).

Why statsmodels and not statsforecast: statsforecast 2.1.1 no longer pulls numba, but it
brings pyarrow, fugue, coreforecast and utilsforecast (+584 MB in a clean venv, 1 min 40 s
to install here), pins pandas < 3 (the venv has 3.1) and took 11.5 s to import cold; we
need three small models, so statsmodels' ExponentialSmoothing (Holt, Holt-Winters) plus a
documented Croston/SBA (Syntetos & Boylan 2005, ~20 lines) is the lighter maintained base.
"""
