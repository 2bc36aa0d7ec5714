"""Fixtures of the fault tests: a private Redis the test may stop and start, and
Celery workers (subprocesses, with fault hooks) on it and the test database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


class PrivateRedis:
    """``redis-server`` on its own port, no persistence: stop() loses nothing the
    app relies on (uploads live in the database), like a real broker crash."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
        ]
        subprocess.run(argv, check=True, capture_output=True)  # fixed argv, redis-server from PATH
        for _ in range(100):
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)  # noqa: S607 - redis-cli from PATH, like redis-server
        for _ in range(100):
            if not self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("private redis did not stop")


@pytest.fixture
def private_redis():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(_free_port(6391))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def celery_on(private_redis):
    """Point the in-process Celery app (the producer side) at the private broker."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = private_redis.url
    # Publishing must fail fast while the broker is down (the upload is in the DB anyway).
    previous_retry = app.conf.task_publish_retry_policy
    app.conf.task_publish_retry_policy = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
    _reset_pools(app)
    yield app
    _reset_pools(app)
    app.conf.broker_url = previous
    app.conf.task_publish_retry_policy = previous_retry


def _reset_pools(app) -> None:
    # The app caches its connection and producer pools for the broker it first saw;
    # kombu keeps one pool group per broker URL, so dropping the references is enough.
    app._pool = None
    app.amqp._producer_pool = None


def worker_database_url() -> str:
    from django.conf import settings

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"]))


class Worker:
    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc = proc
        self.log = log

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_worker(private_redis, tmp_path):
    started: list[Worker] = []

    def start(**env_extra: str) -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "REDIS_URL": private_redis.url,
            "DATABASE_URL": worker_database_url(),
            "CONN_MAX_AGE": "60",
            **env_extra,
        }
        env.pop("DB_POOL", None)
        with open(log, "wb") as fh:
            proc = subprocess.Popen(  # our own interpreter and module
                [sys.executable, "-m", "tests.faults.worker"],
                cwd=ROOT,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(proc, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, *, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker is not None and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited while waiting for {what}:\n{worker.output()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{worker.output()}" if worker else ""))
