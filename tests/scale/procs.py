"""Processes the scale-out tests start and always stop: Celery workers on chosen queues,
ASGI web nodes, and anything else (PgBouncer, PostgreSQL clusters). Each runs in its own
process group with its output in a log file the failure message quotes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str], log: Path, **popen: Any):
        self.name, self.log = name, log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(  # noqa: S603 - argv built by the tests
                list(argv), cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, **popen
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL to the whole group if it takes longer than ``timeout``."""
        self.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return f"--- {self.name} ({self.log}):\n" + self.log.read_text(errors="replace")[-3000:]


class Procs:
    """Started processes, stopped (in reverse order) when the fixture ends."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp, self.env, self.started = tmp, env, []  # type: tuple[Path, dict[str, str], list[Proc]]

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None, **popen: Any) -> Proc:
        proc = Proc(name, argv, env={**self.env, **(env or {})}, log=self.tmp / f"{name}.log", **popen)
        self.started.append(proc)
        return proc

    def worker(self, name: str, queues: str, **env: str) -> Proc:
        """A Celery worker (solo pool: one task at a time) consuming ``queues``."""
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-Q", queues]
        argv += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
        return self.start(name, argv, env=env)

    def web(self, name: str, port: int, **env: str) -> Proc:
        """An ASGI web node (daphne: HTTP and websockets), whatever the Procfile's web line is."""
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        return self.start(name, argv, env=env)

    def outputs(self) -> str:
        return "\n".join(p.output() for p in self.started)

    def stop_all(self) -> None:
        for proc in reversed(self.started):  # all at once: their shutdowns overlap
            proc.terminate()
        for proc in reversed(self.started):
            proc.stop()

    def wait_for(self, predicate: Callable[[], T], *, timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            dead = [p for p in self.started if not p.alive() and p.proc.returncode not in (0, None)]
            if dead:
                raise AssertionError(f"{dead[0].name} exited while waiting for {what}:\n{self.outputs()}")
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.outputs()}")

    def wait_http(self, url: str, *, timeout: float = 40) -> None:
        def up() -> bool:
            try:
                return httpx.get(url, timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        self.wait_for(up, timeout=timeout, what=url)


def process_env(redis_url: str) -> dict[str, str]:
    """Environment of a process that shares the test's database and the given Redis."""
    from tests.faults.conftest import worker_database_url

    env = {**os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["CONN_MAX_AGE"] = "0"
    env.pop("DB_POOL", None)
    return env


@contextmanager
def processes(tmp: Path, env: dict[str, str]) -> Iterator[Procs]:
    procs = Procs(tmp, env)
    try:
        yield procs
    finally:
        procs.stop_all()
