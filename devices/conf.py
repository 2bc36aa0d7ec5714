"""Per-site device settings with the defaults of DESIGN.md section 8.

A site overrides any of them in ``Site.settings["devices"]`` (the arbitration
block key by key); a zone overrides arbitration in ``ZoneSetting``.
"""

from __future__ import annotations

from typing import Any

ARBITRATION_DEFAULTS: dict[str, Any] = {
    "window_reads": 20,  # rolling window: the last 20 reads ...
    "window_ms": 10_000,  # ... or 10 s, per zone
    "offset_db": 6.0,  # a challenger must beat the current zone by this much ...
    "hold_off_ms": 500,  # ... which starts to decay 500 ms after the last move ...
    "decay_db_per_ms": 0.008,  # ... at this rate
    "min_reads": 2,  # reads needed at the new zone
    "dwell_ms": 0,  # how long a challenger must lead before the move (per zone)
    "workstation_dwell_ms": 2_000,  # default dwell of a workstation's zone
}

DEFAULTS: dict[str, Any] = {
    "bucket_ms": 1_000,  # reads of a tag at a read point are aggregated per second
    "future_tolerance_s": 300,  # observations further in the future are quarantined
    "tag_missing_s": 600,  # an assigned tag is missing after 10 min unseen
    "reader_silent_s": 600,  # a reader is silent after 10 min without an upload
    "gateway_silent_periods": 3,  # a gateway after three upload periods
    "battery_low_pct": 20,
    "battery_ok_pct": 25,  # clear the battery alert only above this (hysteresis)
    "stale_upload_s": 120,  # queued longer than this: the task was lost, enqueue again
    "max_attempts": 5,  # a body that fails this often is rejected, not retried forever
    "gs1_company_prefixes": [],  # e.g. ["9501101"]: barcode keys become the same EPC URIs as tags
}


def site_settings(site: Any) -> dict[str, Any]:
    """The effective device settings of ``site`` (a Site or its settings dict)."""
    raw = site if isinstance(site, dict) else (getattr(site, "settings", None) or {})
    overrides = raw.get("devices") or {}
    merged = {**DEFAULTS, **{k: v for k, v in overrides.items() if k != "arbitration"}}
    merged["arbitration"] = {**ARBITRATION_DEFAULTS, **(overrides.get("arbitration") or {})}
    return merged
