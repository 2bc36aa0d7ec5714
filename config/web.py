"""The Procfile's ``web`` process: ``python -m config.web`` runs the chosen server shape.

``WEB_SERVER`` picks the shape (``make serve`` and the benchmark go through
here, so a benchmarked shape is exactly what a user's request meets). README
"Production shape" has each one's measured figures and the command:

    split         (default) HTTP by granian's WSGI interface on ``PORT`` (no event
                  loop, no thread hop: the fastest shape measured for HTTP), websockets
                  (Channels) by granian's ASGI interface on ``WEBSOCKET_PORT`` (default
                  ``PORT`` + 1), two servers under this one process; pages open their
                  socket on that port (``WEBSOCKET_PUBLIC_PORT``), or, with
                  ``WEBSOCKET_BEHIND_PROXY=1``, on their own origin, where a proxy routes
                  ``/ws/`` to it (README "Production shape")
    granian-asgi  granian serving Django's ASGI app: HTTP and websockets on one port
    asgi          gunicorn + uvicorn workers, Django's ASGI app (the shape before)
    mixed         gunicorn + uvicorn workers running ``config.asgi:mixed``: HTTP to
                  Django's WSGI handler on a thread pool (one hop), websockets to Channels
    granian-mixed granian serving ``config.asgi:mixed``
    wsgi          gunicorn gthread workers, WSGI; HTTP only (no websockets)
    granian-wsgi  granian, WSGI; HTTP only (no websockets)
    uvicorn       uvicorn alone (its own process manager), Django's ASGI app

Sizing, from the environment: ``WEB_CONCURRENCY`` processes (default 2 per
core), ``WEB_THREADS`` threads each for the WSGI shapes (default 4), ``HOST`` /
``PORT``; ``FORWARDED_ALLOW_IPS`` the proxies whose X-Forwarded-For is believed.
gunicorn's other settings are in ``config/gunicorn.conf.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GUNICORN_CONF = str(Path(__file__).with_name("gunicorn.conf.py"))
DEFAULT = "split"
SHAPES = ("split", "granian-asgi", "asgi", "mixed", "granian-mixed", "wsgi", "granian-wsgi", "uvicorn")
#: shapes that serve websockets (the others are HTTP only, for measurement)
WEBSOCKETS = {"split", "mixed", "asgi", "granian-asgi", "granian-mixed", "uvicorn"}


def _sizes() -> tuple[str, str, str, str]:
    workers = os.environ.get("WEB_CONCURRENCY") or str(2 * multiprocessing.cpu_count())
    threads = os.environ.get("WEB_THREADS") or "4"
    return os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000"), workers, threads


def websocket_port() -> str:
    return os.environ.get("WEBSOCKET_PORT") or str(int(_sizes()[1]) + 1)


def command(shape: str, *, port: str | None = None) -> list[str]:
    """The argv that serves ``shape`` (for ``split``: its HTTP server; ``websocket_command``
    gives its websocket server)."""
    host, default_port, workers, threads = _sizes()
    port = port or default_port
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
        # gunicorn's max_requests: recycle a worker now and then so a slow leak never becomes an outage
        "--workers-lifetime",
        os.environ.get("WEB_WORKERS_LIFETIME", "6h"),
        "--workers-kill-timeout",
        "20",
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
        "split": [*granian, "--interface", "wsgi", "--blocking-threads", threads, "config.wsgi:application"],
        # asginl: Channels' router has no lifespan; the client address as uvicorn would give it
        "granian-asgi": [*granian, "--interface", "asginl", "config.asgi_granian:application"],
        "granian-mixed": [*granian, "--interface", "asgi", "config.asgi_granian:mixed"],
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


def websocket_command() -> list[str]:
    """The split shape's websocket server: granian's ASGI interface, Channels only
    (``asginl``: Channels' router has no lifespan), one worker per core."""
    argv = command("granian-asgi", port=websocket_port())
    argv[argv.index("--workers") + 1] = os.environ.get("WEBSOCKET_CONCURRENCY") or str(multiprocessing.cpu_count())
    return argv


def _supervise(argvs: list[list[str]]) -> int:
    """Run the servers side by side; a signal goes to both, and when one ends the other
    is stopped (honcho, systemd or the container then restarts the pair as one)."""
    children = [subprocess.Popen(argv) for argv in argvs]  # noqa: S603 - our own venv's servers, fixed arguments

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    code = 0
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is not None:
            code = code or child.returncode or 0
        else:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=25)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


def main() -> None:
    shape = os.environ.get("WEB_SERVER") or DEFAULT
    argv = command(shape)
    # One psycopg pool per web process (settings.DB_POOL), a connection for each request thread.
    os.environ.setdefault("DB_POOL", "1")
    os.environ.setdefault("DB_POOL_MAX_SIZE", str(max(4, int(_sizes()[3]))))
    if shape != "split":
        os.execv(argv[0], argv)  # noqa: S606 - our own venv's server, fixed arguments
    if os.environ.get("WEBSOCKET_BEHIND_PROXY") != "1":
        os.environ["WEBSOCKET_PUBLIC_PORT"] = websocket_port()
    sys.exit(_supervise([argv, websocket_command()]))


if __name__ == "__main__":
    main()
