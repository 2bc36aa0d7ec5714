"""``make serve``'s web process, started as the Procfile starts it, answers a page, the
API, a static file, the health check, and a websocket (on the port the page names, in the
split shape) that receives a broadcast caused by an API write through the same server."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from config import web
from tests.factories.inventory import ItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role
from tracker import services as tracker_services

SHAPE = os.environ.get("WEB_SERVER") or web.DEFAULT
_SERVER_MODULE = {"granian": "granian", "uvicorn": "uvicorn"}.get(SHAPE.split("-")[0], "gunicorn")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.xdist_group("workers"),
    pytest.mark.skipif(
        importlib.util.find_spec(_SERVER_MODULE) is None,
        reason=f"needs {_SERVER_MODULE} for WEB_SERVER={SHAPE} (pip install -r requirements.txt)",
    ),
    pytest.mark.skipif(
        SHAPE not in web.WEBSOCKETS, reason=f"WEB_SERVER={SHAPE} serves no websockets; make serve's shape does"
    ),
]


def _database_url() -> str:
    """The test database this process uses, for the server: it sees the committed rows."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def _static_stale() -> bool:
    """collectstatic (tens of seconds on a busy box) only when a source is newer than its manifest."""
    from django.contrib.staticfiles import finders

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if os.path.getmtime(storage.path(path)) > built:
                return True
    return False


@pytest.fixture
def world(transactional_db):
    site = SiteFactory(code="serve-a", name="Serve A")
    area = LocationFactory(site=site, code="SV-AREA", kind="area")
    a = LocationFactory(site=site, code="SV-A", kind="bin", parent=area)
    LocationFactory(site=site, code="SV-B", kind="bin", parent=area)
    item = ItemFactory(sku="SV-1", unit="pcs")
    receive(item, a, Decimal(10))
    partner = user_with_role("partner", site)
    from tracker.models import ApiKeyScope

    _, key = tracker_services.api_key_create(user=partner, name="serve", scopes=list(ApiKeyScope.values))
    client = Client()
    client.force_login(user_with_role("supervisor", site))
    return {"key": key, "session": client.cookies[settings.SESSION_COOKIE_NAME].value}


@pytest.fixture
def server(world, tmp_path):
    from bench.api.server import Server, manage, server_env

    env = server_env(
        database_url=_database_url(),
        redis_url=os.environ["REDIS_URL"],
        secret_key=settings.SECRET_KEY,  # the session's auth hash is signed with it
        extra={"WEB_CONCURRENCY": "2", "CHANNELS_PREFIX": f"shopfloor-serve-{os.getpid()}", "WEB_SERVER": SHAPE},
    )
    if _static_stale():
        manage("collectstatic", "--noinput", "-v", "0", env=env)
    with Server(env, log_path=tmp_path / "server.log", processes=("web",)) as running:
        yield running


def test_make_serve_serves_pages_api_static_health_and_websockets(server, world):
    import httpx
    from websockets.sync.client import connect

    base = server.base_url
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={world['session']}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/", headers=cookie)
        assert page.status_code == 200 and "Serve A" in page.text, page.text[:300]

        static = re.search(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page.text)
        assert static, "the page links no static file"
        asset = http.get(static.group(1))
        assert asset.status_code == 200 and asset.content
        assert "immutable" in asset.headers.get("cache-control", "")  # WhiteNoise, hashed name

        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text

        bearer = {"Authorization": f"Bearer {world['key']}", "Accept": "application/json"}
        assert http.get("/api/v1/ping/", headers=bearer).status_code == 200
        assert http.get("/api/v1/ping/").status_code in (401, 403)

        # The page names the port its socket opens on when websockets are served apart (the
        # split shape); otherwise its own origin.
        ws_port = re.search(r'data-ws-port="(\d+)"', page.text)
        ws_host = f"127.0.0.1:{ws_port.group(1)}" if ws_port else base.removeprefix("http://")
        if SHAPE == "split":
            assert ws_port and ws_port.group(1) == str(server.websocket_port), page.text[:500]
            csp = page.headers.get("content-security-policy", "")
            assert f"ws://127.0.0.1:{server.websocket_port}" in csp, csp
        ws_url = f"ws://{ws_host}/ws/sites/serve-a/"
        with connect(ws_url, additional_headers={**cookie, "Origin": base}, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            moved = http.post(
                "/api/v1/inventory/moves/",
                headers={**bearer, "Idempotency-Key": "serve-test-1"},
                json={"kind": "transfer", "item": "SV-1", "quantity": "2", "source": "SV-A", "destination": "SV-B"},
            )
            assert moved.status_code == 201, moved.text
            event = json.loads(ws.recv(timeout=10))
            assert event["site"] and event["type"] != "hello", event

        # Another origin's page cannot open a socket with the user's cookie.
        with pytest.raises(Exception, match="403"):
            connect(ws_url, additional_headers={**cookie, "Origin": "http://evil.example"}, open_timeout=10)
