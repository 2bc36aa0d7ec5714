"""``/healthz``: database, cache/broker and worker state, for the process manager."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def _check_cache() -> dict:
    cache.set("healthz", "1", 5)
    return {"ok": cache.get("healthz") == "1"}


def _check_broker_and_worker(want_worker: bool) -> tuple[dict, dict]:
    if not settings.REDIS_URL:
        return {"ok": True, "mode": "in-process"}, {"ok": True, "mode": "in-process"}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    client.ping()
    broker = {"ok": True, "mode": "redis"}
    if not want_worker:
        return broker, {"ok": None, "mode": "not checked"}
    from config.celery import app

    replies = app.control.ping(timeout=0.5) or []
    return broker, {"ok": bool(replies), "workers": len(replies)}


@never_cache
def healthz(request):
    started = time.monotonic()
    checks: dict[str, dict] = {}
    for name, fn in (("database", _check_database), ("cache", _check_cache)):
        try:
            checks[name] = fn()
        except Exception as exc:  # a health check reports failures, it never raises
            checks[name] = {"ok": False, "error": exc.__class__.__name__}
    try:
        checks["broker"], checks["worker"] = _check_broker_and_worker(request.GET.get("worker") == "1")
    except Exception as exc:
        checks["broker"] = {"ok": False, "error": exc.__class__.__name__}
        checks["worker"] = {"ok": False, "error": "broker unreachable"}
    healthy = all(checks[n]["ok"] for n in ("database", "cache", "broker"))
    body = {
        "status": "ok" if healthy else "fail",
        "checks": checks,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=200 if healthy else 503)
