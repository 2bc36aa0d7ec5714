"""``/metrics`` for Prometheus, restricted.

Allowed: a request from a loopback address that did not come through a proxy
(no X-Forwarded-For/Forwarded header: behind a local reverse proxy every
request looks local), a logged-in staff user, or ``Authorization: Bearer
<METRICS_TOKEN>``. Anyone else gets a 404 so the endpoint is not advertised.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tracker.observability import metrics


def _from_loopback(request) -> bool:
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _has_token(request) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", "")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), expected)


def metrics_allowed(request) -> bool:
    if _has_token(request) or _from_loopback(request):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


class _DefaultRegistry:
    """This process's metrics (django-prometheus' and ours)."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if metrics.MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
    registry.register(metrics.CeleryQueueDepthCollector())
    return registry


@never_cache
def metrics_view(request):
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
