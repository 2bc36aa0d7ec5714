"""Many web nodes: two ASGI processes (daphne, on two ports) and two Celery workers
against one database and one Redis, as a load balancer in front of several machines
would see them. An upload accepted by one node is processed by a worker and pushed to a
websocket client connected to the *other* node; a revoked partner key and a revoked
device key are refused by both nodes on the next request (checked over HTTP only, so it
holds whatever the nodes cache)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from devices import services as device_services
from devices.models import DeviceKey, ReaderUpload, UploadStatus
from tests.factories.tracker import user_with_role
from tests.faults.pipeline_world import bodies, make_world
from tests.scale.procs import Procs, free_port, process_env, processes
from tracker import services as core
from tracker.models import ApiKeyScope
from tracker.roles import sync_roles

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ALL_QUEUES = "celery,ingest,alerts,webhooks,reports"


@pytest.fixture
def shared_procs(tmp_path: Path) -> Iterator[Procs]:
    """Processes on the test's own Redis (cache, channel layer, broker): a key revoked here
    bumps the auth epoch the nodes read, as a revocation in the admin on any node does."""
    with processes(tmp_path, process_env(settings.REDIS_URL)) as started:
        yield started


def _session_cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


class _Listener:
    """A browser's websocket on one node's site stream, collecting the events it is pushed."""

    def __init__(self, url: str, cookie: str, origin: str):
        self.events: list[dict] = []
        self.ready, self.done = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(url, cookie, origin), daemon=True)
        self.thread.start()

    def _run(self, url: str, cookie: str, origin: str) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        try:
            with connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=20) as ws:
                self.ready.set()
                while not self.done.is_set():
                    try:
                        self.events.append(json.loads(ws.recv(timeout=0.3)))
                    except TimeoutError:
                        continue
                    except ConnectionClosed:
                        return
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.ready.set()

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)


def test_two_web_nodes_and_two_workers_share_uploads_events_and_revocations(shared_procs):
    sync_roles()
    site, reader, device_secret = make_world(91)
    viewer = user_with_role("viewer", site)
    partner = user_with_role("partner", site)
    key, partner_secret = core.api_key_create(user=partner, name="erp", scopes=[ApiKeyScope.READ_INVENTORY])
    cookie = _session_cookie(viewer)

    ports = [free_port(), free_port()]
    for n, port in enumerate(ports):
        shared_procs.web(f"web-{n}", port)
    for n in range(2):
        shared_procs.worker(f"worker-{n}", ALL_QUEUES)
    nodes = [f"http://127.0.0.1:{port}" for port in ports]
    for node in nodes:
        shared_procs.wait_http(f"{node}/healthz", timeout=45)

    listener = _Listener(f"ws://127.0.0.1:{ports[1]}/ws/sites/{site.code}/", cookie, nodes[1])
    try:
        assert listener.ready.wait(20) and listener.error is None, listener.error
        response = httpx.post(
            f"{nodes[0]}/api/v1/devices/uploads/",
            content=bodies(91, 1)[0],
            headers={"Authorization": f"Bearer {device_secret}", "Content-Type": "application/json"},
            timeout=20,
        )
        assert response.status_code == 202, response.text
        upload_id = response.json()["id"]

        def pushed() -> bool:
            return any(e.get("type") == "tag.seen" and e.get("upload") == upload_id for e in listener.events)

        shared_procs.wait_for(pushed, timeout=30, what="node 1's websocket to be pushed node 0's upload")
        assert ReaderUpload.objects.get(pk=upload_id).status == UploadStatus.PROCESSED
    finally:
        listener.close()

    # Both nodes accept the partner key (each has now cached what it authenticates as) ...
    bearer = {"Authorization": f"Bearer {partner_secret}"}
    assert [httpx.get(f"{n}/api/v1/ping/", headers=bearer, timeout=10).status_code for n in nodes] == [200, 200]
    core.api_key_revoke(key=key)  # ... then it is revoked (on no node in particular)
    assert [httpx.get(f"{n}/api/v1/ping/", headers=bearer, timeout=10).status_code for n in nodes] == [401, 401]

    device_key = DeviceKey.objects.get(device=reader)
    device_services.device_key_revoke(key=device_key)
    refused = [
        httpx.post(
            f"{n}/api/v1/devices/uploads/",
            content=bodies(91, 2)[1],
            headers={"Authorization": f"Bearer {device_secret}", "Content-Type": "application/json"},
            timeout=10,
        ).status_code
        for n in nodes
    ]
    assert refused == [401, 401]
