"""Application metrics, for other apps to update; scraped at ``/metrics``.

Use them as e.g.::

    from tracker.observability import metrics
    metrics.upload_intake_total.labels(kind="reader", outcome="accepted").inc()
    metrics.upload_processing_lag_seconds.labels(kind="reader").observe(lag)
    metrics.pipeline_errors_total.labels(stage="parse").inc()
    metrics.webhook_failures_total.labels(reason="timeout").inc()

Keep label values to small fixed sets (never ids, codes or messages):
every distinct value is a separate time series.

``celery_queue_depth`` is not stored: it is read from Redis (``LLEN`` of each
queue list) when ``/metrics`` is scraped, when ``REDIS_URL`` is set.

Several processes (gunicorn/uvicorn workers, Celery workers): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory in the
environment of every process *before it starts* (prometheus_client reads it
at import) and clear it on deploy; ``/metrics`` then sums all processes'
files. Without it each process reports only its own counts.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

upload_intake_total = Counter(
    "shopfloor_upload_intake_total",
    "Device uploads received, by kind (reader, gateway, scan, epcis) and outcome (accepted, duplicate, rejected).",
    ["kind", "outcome"],
)
upload_processing_lag_seconds = Histogram(
    "shopfloor_upload_processing_lag_seconds",
    "Seconds from an upload being stored to its processing finishing.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
pipeline_errors_total = Counter(
    "shopfloor_pipeline_errors_total",
    "Errors while processing uploads and events, by stage (parse, apply, dispatch...).",
    ["stage"],
)
webhook_failures_total = Counter(
    "shopfloor_webhook_failures_total",
    "Failed webhook delivery attempts, by reason (timeout, connection, http_4xx, http_5xx...).",
    ["reason"],
)
websocket_connections = Gauge(
    "shopfloor_websocket_connections",
    "Open websocket connections (site and station streams).",
    multiprocess_mode="livesum",
)


def queue_names() -> list[str]:
    """The Celery queues to measure: the default queue plus any routed or configured ones."""
    names = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    if isinstance(routes, dict):
        names.update(r["queue"] for r in routes.values() if isinstance(r, dict) and r.get("queue"))
    names.update(getattr(settings, "SHOPFLOOR_METRICS_QUEUES", ()))
    return sorted(names)


class CeleryQueueDepthCollector:
    """``shopfloor_celery_queue_depth{queue=...}``: messages waiting in each Redis queue list."""

    def __init__(self, redis_url: str | None = None, queues: list[str] | None = None):
        self.redis_url = redis_url if redis_url is not None else getattr(settings, "REDIS_URL", "")
        self.queues = queues

    def collect(self):
        family = GaugeMetricFamily(
            "shopfloor_celery_queue_depth",
            "Messages waiting in each Celery queue (Redis list length).",
            labels=["queue"],
        )
        if self.redis_url:
            try:
                import redis

                client = redis.Redis.from_url(self.redis_url, socket_timeout=1, socket_connect_timeout=1)
                for name in self.queues or queue_names():
                    family.add_metric([name], float(client.llen(name)))
            except Exception:  # a scrape must not fail because Redis is down
                logger.warning("celery_queue_depth: Redis not reachable", exc_info=True)
        yield family


celery_queue_depth = CeleryQueueDepthCollector
