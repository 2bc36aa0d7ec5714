"""Gunicorn for the production shape. ``config/web.py`` (the Procfile's web) picks the
worker class and app on the command line: uvicorn workers serving ``config.asgi:mixed``
by default (HTTP through Django's WSGI handler in a thread pool, websockets through
Channels), or another measured shape (``WEB_SERVER``). Everything comes from the
environment.

    WEB_CONCURRENCY   worker processes (default: 2 per core)
    HOST, PORT        bind address (default 127.0.0.1:8000; 0.0.0.0 behind a proxy)
    WEB_TIMEOUT       seconds a request may hold a worker before it is restarted
    ACCESS_LOG        1 to log every request to stdout (off: it costs ~10% at load)

Workers hold no state another process needs (sessions, cache, channel layer
and broker live in PostgreSQL and Redis), so more of them, on this machine or
another, just add capacity.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
# uvloop + httptools, websockets through the same process (Channels); config/web.py passes -k.
worker_class = "uvicorn_worker.UvicornWorker"
# Import Django once in the master; workers fork from it (faster restarts, shared pages).
# Database connections are opened lazily in each worker, never in the master.
preload_app = True
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# The heartbeat file on tmpfs: a slow disk must not make the master kill healthy workers.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn creates its own private file there
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in {"1", "true", "yes", "on"} else None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# Trust X-Forwarded-* only from a proxy on this host (SECURE_PROXY_SSL_HEADER reads it).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "shopfloor-web"
