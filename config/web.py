"""The Procfile's ``web`` process: ``python -m config.web`` runs the chosen server shape.

``WEB_SERVER`` picks the shape (``make serve`` and the benchmark go through
here, so a benchmarked shape is exactly what a user's request meets):

    mixed         (default) one port: gunicorn + uvicorn workers running
                  ``config.asgi:mixed``: plain HTTP goes straight to Django's WSGI
                  handler in a thread pool (one thread hop per request), websockets
                  to Channels
    asgi          gunicorn + uvicorn workers, Django's ASGI handler for everything
                  (several thread hops per sync request)
    wsgi          gunicorn gthread workers, WSGI; HTTP only (no websockets)
    granian-wsgi  granian, WSGI; HTTP only (no websockets)
    granian-asgi  granian, Django's ASGI handler for everything
    granian-mixed granian, ASGI interface with ``config.asgi:mixed``
    uvicorn       uvicorn alone (its own process manager), ASGI for everything

Sizing, from the environment: ``WEB_CONCURRENCY`` processes (default 2 per
core), ``WEB_THREADS`` threads each for the WSGI side (default 4), ``HOST`` /
``PORT``. The rest of gunicorn's settings are in ``config/gunicorn.conf.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
GUNICORN_CONF = str(Path(__file__).with_name("gunicorn.conf.py"))
DEFAULT = "mixed"
SHAPES = ("mixed", "asgi", "wsgi", "granian-wsgi", "granian-asgi", "granian-mixed", "uvicorn")
#: shapes that serve websockets (the others are HTTP only, for measurement)
WEBSOCKETS = {"mixed", "asgi", "granian-asgi", "granian-mixed", "uvicorn"}


def _sizes() -> tuple[str, str, str, str]:
    workers = os.environ.get("WEB_CONCURRENCY") or str(2 * multiprocessing.cpu_count())
    threads = os.environ.get("WEB_THREADS") or "4"
    return os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000"), workers, threads


def command(shape: str) -> list[str]:
    """The argv that serves ``shape``."""
    host, port, workers, threads = _sizes()
    gunicorn = [str(BIN / "gunicorn"), "-c", GUNICORN_CONF]
    granian = [
        str(BIN / "granian"),
        "--host",
        host,
        "--port",
        port,
        "--workers",
        workers,
        "--no-access-log",
        "--log-level",
        os.environ.get("WEB_LOG_LEVEL", "warning"),
        "--respawn-failed-workers",
    ]
    shapes = {
        "mixed": [*gunicorn, "-k", "uvicorn_worker.UvicornWorker", "config.asgi:mixed"],
        "asgi": [*gunicorn, "-k", "uvicorn_worker.UvicornWorker", "config.asgi:application"],
        "wsgi": [*gunicorn, "-k", "gthread", "--threads", threads, "config.wsgi:application"],
        "granian-wsgi": [
            *granian,
            "--interface",
            "wsgi",
            "--blocking-threads",
            threads,
            "config.wsgi:application",
        ],
        "granian-asgi": [*granian, "--interface", "asgi", "config.asgi:application"],
        "granian-mixed": [*granian, "--interface", "asgi", "config.asgi:mixed"],
        "uvicorn": [
            str(BIN / "uvicorn"),
            "--host",
            host,
            "--port",
            port,
            "--workers",
            workers,
            "--no-access-log",
            "--log-level",
            os.environ.get("WEB_LOG_LEVEL", "warning"),
            "config.asgi:application",
        ],
    }
    if shape not in shapes:
        raise SystemExit(f"WEB_SERVER={shape!r}: choose one of {', '.join(shapes)}")
    return shapes[shape]


def main() -> None:
    argv = command(os.environ.get("WEB_SERVER") or DEFAULT)
    # The web processes share one psycopg pool each (settings.DB_POOL).
    os.environ.setdefault("DB_POOL", "1")
    os.execv(argv[0], argv)  # noqa: S606 - our own venv's server, fixed arguments


if __name__ == "__main__":
    main()
