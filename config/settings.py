"""Shopfloor settings, read from the environment.

Unset variables give the embedded default (SQLite, in-process Celery, in-memory
channel layer, local-memory cache) so a first run needs nothing installed.
Setting ``DATABASE_URL`` and ``REDIS_URL`` gives the production shape.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-shopfloor-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", ["http://localhost:8000", "http://127.0.0.1:8000"])

INSTALLED_APPS = [
    "daphne",
    "tracker.security.admin_apps.ShopfloorAdminConfig",  # admin.site with optional 2FA
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "guardian",
    "channels",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "django_prometheus",
    "drf_spectacular_sidecar",
    "tracker",
    "tracker.webhooks",
    "tracker.observability",
    "inventory",
    "wip",
    "devices",
]

# The demo plant (simulator, ``manage.py demo``/``seed_demo``/``simulate``) is installed only
# when asked for: ``make demo`` sets SHOPFLOOR_DEMO=1; the test suite enables it in the tests
# that call its commands. Production never has it.
SHOPFLOOR_DEMO = env_bool("SHOPFLOOR_DEMO", False)
if SHOPFLOOR_DEMO:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "tracker.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tracker.security.csp.CSPMiddleware",  # django-csp's, its policy text built once (see the module)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tracker.context_processors.shopfloor",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Under ASGI every request runs its sync code in a fresh thread, so
    # CONN_MAX_AGE cannot reuse a connection there (Django ticket #33497): the
    # web processes use psycopg's pool instead (DB_POOL=1, set by the Procfile).
    # Celery and management commands keep persistent connections.
    _db_pool = env_bool("DB_POOL", False)
    # DATABASE_POOLER=pgbouncer: DATABASE_URL points at PgBouncer in transaction pooling
    # mode, where consecutive transactions of one connection may run on different server
    # connections. So: no server-side prepared statements (psycopg prepares a query after
    # it has run prepare_threshold times; None never does) and no server-side cursors
    # (QuerySet.iterator() would DECLARE a cursor that outlives its transaction). The code
    # keeps no other session state: SET LOCAL only, row locks, no advisory or LISTEN.
    DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "").strip().lower()
    if DATABASE_POOLER not in {"", "pgbouncer"}:
        raise ImproperlyConfigured(f"DATABASE_POOLER must be empty or 'pgbouncer', not {DATABASE_POOLER!r}.")

    def _database(url: str) -> dict[str, Any]:
        config: dict[str, Any] = dict(
            dj_database_url.parse(
                url,
                conn_max_age=0 if _db_pool else int(os.environ.get("CONN_MAX_AGE", "60")),
                conn_health_checks=not _db_pool,
            )
        )
        if config["ENGINE"].endswith("postgresql"):
            options = config.setdefault("OPTIONS", {})
            if _db_pool:
                options["pool"] = {
                    "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "2")),
                    "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "4")),
                    "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
                }
            if DATABASE_POOLER == "pgbouncer":
                options["prepare_threshold"] = None
                config["DISABLE_SERVER_SIDE_CURSORS"] = True
        return config

    DATABASES = {"default": _database(DATABASE_URL)}
    # DATABASE_REPLICA_URL: a streaming replica of the primary. Reports, exports, forecasts
    # and EPCIS queries read it (config/db_routers.py); everything else uses the primary.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
    if DATABASE_REPLICA_URL:
        DATABASES["replica"] = _database(DATABASE_REPLICA_URL)
        # Tests: the replica alias reads the test database (no second test database).
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several threads (server, in-process worker, simulator) write at once.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ROUTERS = ["config.db_routers.ReplicaRouter"]

# --- Partitioned history (PostgreSQL with pg_partman; README "Partitioned history") ---
# Off: the history tables stay plain on PostgreSQL too (read by the migrations).
HISTORY_PARTITIONING = env_bool("HISTORY_PARTITIONING", True)
# How long each table keeps its partitions (a PostgreSQL interval; empty: for ever), and
# whether an expired partition is detached and kept as its own table (default) or dropped.
# Stock moves have no entry: verify_ledger sums the whole ledger, so it is never expired.
HISTORY_PARTITION_RETENTION: dict[str, dict[str, Any]] = {
    key: {
        "retention": os.environ.get(f"PARTITION_RETENTION_{key.upper()}", default) or None,
        "keep_table": not env_bool(f"PARTITION_DROP_{key.upper()}", False),
    }
    for key, default in (
        ("reader_uploads", "90 days"),
        ("sensor_samples", "400 days"),
        ("audit_events", ""),
        ("webhook_deliveries", "90 days"),
    )
}

# --- Redis: Celery broker, channel layer, cache ----------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis backend with one client and pool per process instead of one
            # per ASGI request (see the module).
            "BACKEND": "config.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "shopfloor"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": os.environ.get("CHANNELS_PREFIX", "shopfloor"),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    # Embedded default: tasks run in the process that enqueues them.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False

CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE: dict = {}
# Queues that scale apart: uploads (ingest), alerts and sweeps, webhooks and reports each
# have a queue, so a stalled webhook receiver or a long forecast never delays an upload.
# A worker started without -Q consumes every queue listed here (make serve, make demo);
# `celery -A config worker -Q ingest` on another machine consumes only uploads
# (Procfile.scaled, README "Queues"). Anything not routed goes to "celery".
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each queue its own direct exchange and routing key, as Celery makes a queue it creates on
# demand. (Queue(name) alone binds every queue with the default key "celery": harmless on
# Redis, which delivers by queue name, but an AMQP broker would copy each task to every queue.)
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in ("celery", "ingest", "alerts", "webhooks", "reports")
]
CELERY_TASK_ROUTES = {
    "devices.tasks.process_reader_upload": {"queue": "ingest"},
    "devices.tasks.drain_reader_uploads": {"queue": "ingest"},
    "devices.tasks.requeue_stale_uploads": {"queue": "ingest"},
    "webhooks.*": {"queue": "webhooks"},
    "inventory.forecasting.tasks.*": {"queue": "reports"},
    "devices.tasks.*": {"queue": "alerts"},
    "wip.tasks.*": {"queue": "alerts"},
    "inventory.tasks.*": {"queue": "alerts"},
    "tracker.*": {"queue": "alerts"},
}

# --- Auth and access -------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses any login while the username+address is locked out (django-axes).
    "tracker.security.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous sees nothing
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tracker:home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API --------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "tracker.api.permissions.ScopedModelPermissions",
        # API keys: the scope the view's access declaration names must be among the key's scopes.
        "tracker.api.partner.ApiKeyScopePermission",
    ],
    # Per API key (session users are not throttled here); 429 + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["tracker.api.partner.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_KEY_RATE", "600/min")},
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tracker.api.problems.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Shopfloor API",
    "DESCRIPTION": "WIP and inventory tracking for manufacturers. Natural keys, "
    "problem+json errors, Idempotency-Key on creates.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Shopfloor -------------------------------------------------------------
SHOPFLOOR = {
    "API_KEY_TOUCH_SECONDS": int(os.environ.get("API_KEY_TOUCH_SECONDS", "5")),
    # How long a create sent with an Idempotency-Key replays its first answer;
    # older records are purged hourly by the tracker.idempotency_purge beat task.
    "IDEMPOTENCY_TTL_HOURS": int(os.environ.get("IDEMPOTENCY_TTL_HOURS", "48")),
}

# Uploads reach the ingest workers through a Redis list drained by tasks (devices/upload_queue.py).
# Another drain starts when more than UPLOAD_DRAIN_BACKLOG uploads wait per running drain, up to
# UPLOAD_DRAINS_MAX at once: set it to at least the ingest worker processes across all machines
# (a drain that finds nothing leaves after a second, so a high limit costs nothing when quiet).
UPLOAD_DRAINS_MAX = int(os.environ.get("UPLOAD_DRAINS_MAX", "16"))
UPLOAD_DRAIN_BACKLOG = int(os.environ.get("UPLOAD_DRAIN_BACKLOG", "8"))

# Webhooks (defaults and the rest of the knobs: tracker/webhooks/conf.py).
# Besides public addresses, targets may resolve only into these CIDRs; unset:
# loopback and private ranges with DEBUG, none in production (SSRF guard).
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", []) or None
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["WebhookDeliveryStatusEnum"] = (
    "tracker.webhooks.models.DeliveryStatus"
)
# A work order's status appears in two components (the list's WorkOrder and the
# detail with its estimate): keep the enum's name instead of a hashed one.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["WorkOrderStatusEnum"] = "wip.models.WorkOrderStatus"

# --- Security (production shape) --------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Pages hand the CSRF token to htmx through hx-headers, so scripts never read the cookie.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Probes and the Prometheus scraper talk plain HTTP to the process itself.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# Request bodies read into memory: device uploads up to 2 MB (plus multipart
# framing) pass; views that import files enforce their own, smaller limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(3 * 1024 * 1024)))

# Content Security Policy (django-csp 4): no inline scripts or styles anywhere.
# htmx's indicator <style> is switched off in base.html; websockets go to this
# host only ('self' covers ws/wss in current browsers; the explicit sources
# are for those that do not).
from csp.constants import NONE, SELF  # noqa: E402

#: The port pages open their websocket on when websockets are served apart from HTTP
#: (``config/web.py``'s default shape, ``split``, sets it to its websocket server's port);
#: empty: the page's own origin (one server, or a proxy that routes /ws/ on the one port).
WEBSOCKET_PUBLIC_PORT = os.environ.get("WEBSOCKET_PUBLIC_PORT", "")


def _websocket_sources() -> list[str]:
    sources = []
    for host in ALLOWED_HOSTS:
        if host in {"*", "testserver"} or host.startswith((".", "[")):
            continue
        sources += [f"wss://{host}:*"] + ([f"ws://{host}:*"] if DEBUG else [])
        if WEBSOCKET_PUBLIC_PORT and not DEBUG:
            sources.append(f"ws://{host}:{WEBSOCKET_PUBLIC_PORT}")
    return sources


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *_websocket_sources()],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}
# Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
SPECTACULAR_SETTINGS.update({"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"})

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one
# username from one address, that pair is locked for AXES_COOLOFF_MINUTES.
# Locking by username+address (not address alone) keeps a shared shop-floor
# terminal or NAT from locking out everyone. Unlock: admin > Axes > Access attempts.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Second factor (django-otp TOTP) for everyone who can reach the admin.
SHOPFLOOR_REQUIRE_2FA_FOR_STAFF = env_bool("REQUIRE_2FA_FOR_STAFF", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Shopfloor")

# /metrics: loopback, staff, or "Authorization: Bearer $METRICS_TOKEN".
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Logging ----------------------------------------------------------------
# LOG_FORMAT=json (default with DEBUG off): one JSON object per line with the
# request id, which follows a request into the Celery tasks it enqueues.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "tracker.observability.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "tracker.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes logs every login at INFO; the audit trail already records them.
        "axes": {"level": "WARNING"},
    },
}
