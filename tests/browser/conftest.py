"""End-to-end tests in headless Chromium against a real ASGI server.

pytest-django's ``live_server`` is WSGI (no websockets) and shares the test
database inside a transaction another process cannot see, so these tests run
their own database: a file-based SQLite one (embedded default) or one of their
own on the PostgreSQL server ``DATABASE_URL`` names.

* Embedded default: ``manage.py runserver`` (daphne here), tasks in-process.
* PostgreSQL + Redis: the production shape, exactly as ``make serve`` runs it:
  ``collectstatic``, then the Procfile's web (``config/web.py``: HTTP and
  websockets on their own ports, DEBUG off, WhiteNoise), Celery worker and beat under honcho, stopped
  together at the end. Set ``BROWSER_SERVER=runserver`` to use the dev server.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"


def pytest_collection_modifyitems(config, items):
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "needs playwright (pip install -r requirements-dev.txt)"
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_url(url: str) -> str:
    """A database of the browser tests' own on the same server, created empty."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "shopfloor") + "_browser"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def plant(tmp_path_factory):
    """The running server: {"url", "keys", "env", ...}."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("browser")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        PYTHONUNBUFFERED="1",
        CHANNELS_PREFIX=f"shopfloor-browser-{os.getpid()}",
    )
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = _postgres_url(os.environ["DATABASE_URL"])
    else:
        env["SQLITE_PATH"] = str(tmp / "browser.sqlite3")
    keys_file = tmp / "keys.json"
    prepared = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "tests.browser._prepare", str(keys_file)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,  # the simulated two hours, each upload processed as it is posted
    )
    info = json.loads(prepared.stdout.strip().splitlines()[-1])
    if env.get("REDIS_URL") and env.get("DATABASE_URL") and os.environ.get("BROWSER_SERVER") != "runserver":
        yield from _production_shape(info, env, tmp)
        return
    port = _free_port()
    logs = open(tmp / "server.log", "w")  # closed at teardown
    children = [
        subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
    ]
    if env.get("REDIS_URL"):
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-l", "warning"],
                cwd=ROOT,
                env=env,
                stdout=logs,
                stderr=subprocess.STDOUT,
            )
        )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code < 500:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or children[0].poll() is not None:
            raise RuntimeError(f"server did not start; see {tmp / 'server.log'}")
        time.sleep(0.2)
    info.update(
        url=url,
        keys=json.loads(keys_file.read_text()),
        log=tmp / "server.log",
        worker="celery" if env.get("REDIS_URL") else "in-process",
        server="runserver",
    )
    yield info
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    logs.close()


def _production_shape(info: dict, env: dict, tmp: Path):
    """``make serve`` on 127.0.0.1: web, worker and beat under honcho, as one process group."""
    from bench.api.server import Server, manage, server_env

    prod = server_env(
        database_url=env["DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        extra={
            "CHANNELS_PREFIX": env["CHANNELS_PREFIX"],
            "WEB_CONCURRENCY": "2",
            "CELERY_CONCURRENCY": "1",
            "LOG_LEVEL": "INFO",
            "CELERY_BEAT_SCHEDULE_FILE": str(tmp / "celerybeat-schedule"),
        },
    )
    manage("collectstatic", "--noinput", "-v", "0", env=prod)
    with Server(prod, log_path=tmp / "server.log", processes=("web", "worker", "beat")) as server:
        info.update(
            url=server.base_url,
            keys=json.loads((tmp / "keys.json").read_text()),
            log=tmp / "server.log",
            worker="celery",
            server="production",
        )
        yield info


@pytest.fixture(scope="module")
def browser(plant):
    """One Chromium per module: Playwright's sync API runs an event loop on this thread while
    it is open, and an async test after it in the same session (a plain ``pytest``, not
    ``make test``'s two runs) would find that loop running."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, plant):
    """``page_for(username)``: a logged-in page; the test fails if any page answered 5xx."""
    pages, failures = [], []

    def make(username: str):
        context = browser.new_context(base_url=plant["url"], viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "shopfloor-demo")
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/accounts/login" not in u)
        pages.append(context)
        return page

    yield make
    for context in pages:
        context.close()
    assert not failures, f"server errors: {failures}"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(ROOT / "artifacts" / "browser" / ".tmp", ignore_errors=True)
