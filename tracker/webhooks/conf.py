"""Webhook settings with their defaults (override any of them in settings.py).

``WEBHOOK_ALLOWED_NETWORKS``: CIDRs a target may resolve into *besides* public
(globally routable) addresses. Default: none in production, so a webhook can
never reach the loopback, private ranges, link-local (cloud metadata) or other
special addresses (SSRF); with DEBUG on the loopback and the private ranges are
allowed so a developer can point a webhook at a local receiver. Set it from the
environment as a comma-separated list, e.g. ``WEBHOOK_ALLOWED_NETWORKS=10.8.0.0/16``
for a partner reached over a VPN.
"""

from __future__ import annotations

from django.conf import settings

DEBUG_NETWORKS = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]

DEFAULTS = {
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    # Backoff: base * 2**(n-1), capped, with full jitter over its upper half.
    "WEBHOOK_BACKOFF_BASE_SECONDS": 10,
    "WEBHOOK_BACKOFF_MAX_SECONDS": 3 * 3600,
    # 16 attempts with these delays span about a day.
    "WEBHOOK_MAX_ATTEMPTS": 16,
    "WEBHOOK_DISABLE_AFTER_HOURS": 24,
    "WEBHOOK_SWEEP_BATCH": 200,
    # A claimed delivery is invisible to other workers this long (a crashed
    # worker's claim expires and the delivery is retried).
    "WEBHOOK_LEASE_SECONDS": 120,
    "WEBHOOK_ALLOWED_NETWORKS": None,  # None: DEBUG_NETWORKS if DEBUG else []
    "WEBHOOK_ALLOW_HTTP": None,  # None: plain http only with DEBUG
}


def conf(name: str):
    value = getattr(settings, name, DEFAULTS[name])
    if value is None and name == "WEBHOOK_ALLOWED_NETWORKS":
        return DEBUG_NETWORKS if settings.DEBUG else []
    if value is None and name == "WEBHOOK_ALLOW_HTTP":
        return bool(settings.DEBUG)
    return value
