"""Start the production shape (the Procfile's web and worker, under honcho) on
127.0.0.1 for a benchmark, and stop it again: the same command line as
``make serve``, against the benchmark's database and Redis db. ``web_server``
picks the web process's shape (``WEB_SERVER``, see ``config/web.py``)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from bench.api import cpu_split

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(
    *, database_url: str, redis_url: str, secret_key: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The production shape's environment, as ``make serve`` sets it, on 127.0.0.1 only."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DEBUG": "0",
            "SECRET_KEY": secret_key or secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "0",
            "HOST": "127.0.0.1",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "CELERY_LOG_LEVEL": "warning",
            "LOG_LEVEL": "WARNING",
            # Keep the per-key throttle on the request path (its Redis round trip is part of
            # the cost) but high enough never to answer 429 to the benchmark's one key.
            "API_KEY_RATE": "1000000/s",
        }
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra or {})
    return env


def manage(*args: str, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess:
    """``manage.py <args>`` in a child process with ``env`` (its own database settings)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


def bench(*args: str, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess:
    """``python -m bench <args>`` in a child process with ``env`` (its own database settings)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and package, fixed arguments
        [sys.executable, "-m", "bench", *args],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


class Server:
    """``honcho start web worker`` from the Procfile; a context manager that waits for /healthz."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        processes: tuple[str, ...] = ("web", "worker"),
        web_server: str | None = None,
    ):
        self.port = free_port()
        # The split shape's websocket server gets a free port of its own, not PORT + 1.
        self.websocket_port = free_port()
        self.env = {**env, "PORT": str(self.port), "WEBSOCKET_PORT": str(self.websocket_port)}
        if web_server:
            self.env["WEB_SERVER"] = web_server
        self.log_path = log_path
        self.processes = processes
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = open(self.log_path, "ab")  # closed in __exit__
        self.proc = subprocess.Popen(  # noqa: S603 - honcho from our venv, fixed arguments
            [str(VENV_BIN / "honcho"), "start", "-f", "Procfile", "-p", str(self.port), *self.processes],
            env=self.env,
            cwd=settings.BASE_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early; see {self.log_path}")
            if self._healthy():
                self._settle(deadline)
                return self
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the server did not become healthy in 90 s; see {self.log_path}")

    def _settle(self, deadline: float) -> None:
        """Wait until the web processes idle (every worker booted and imported), so a
        scenario's CPU time is its requests', not the workers' start."""
        before = self.web_cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.web_cpu_seconds()
            if now - before < 0.05:
                return
            before = now

    def web_cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the web server: every process under honcho
        but Celery's, with the children they have reaped. Less moved by other work on the
        machine than throughput is, so shapes compare by it on a busy box too."""
        if self.proc is None:
            return 0.0
        return cpu_split.snapshot(self.proc.pid).seconds["web"]

    def _healthy(self) -> bool:
        want_worker = "worker" in self.processes
        url = f"{self.base_url}/healthz" + ("?worker=1" if want_worker else "")
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - http://127.0.0.1 only
                body = resp.read().decode()
                return resp.status == 200 and (not want_worker or '"workers": 0' not in body and "workers" in body)
        except OSError:
            return False

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
