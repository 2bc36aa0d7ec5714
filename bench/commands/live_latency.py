"""Measure how long a device upload takes to reach an open page.

For each of ``--uploads`` Zebra uploads (one new tag each) posted to the device
endpoint, the time from its ``202`` to the arrival of its ``tag.seen`` event on
a websocket subscribed to the site's stream, as a logged-in page's is. With
``REDIS_URL`` set the upload is processed by a Celery worker in another process
and the event travels through channels-redis: the production path. A page then
coalesces events for 150 ms (``live.js``) and fetches its partial once; the
partial's render time is measured too and added for the "on the page" figure.

``--spawn`` starts its own ASGI server and Celery worker against the configured
database and Redis; otherwise point ``--url`` at a running server with a worker.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError

from demo.simulator import layout, writers
from demo.simulator.seed import seed
from tracker import services as tracker_services

WARMUP = 5
COALESCE_S = 0.150  # static/shopfloor/live.js debounces a burst of events into one refresh


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


class Command(BaseCommand):
    help = "Post N uploads and measure 202 -> websocket event (median, p95); needs a worker and Redis."

    def add_arguments(self, parser):
        parser.add_argument("--uploads", type=int, default=120)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--spawn", action="store_true", help="Start an ASGI server and a Celery worker for the run."
        )
        parser.add_argument("--rate", type=float, default=10.0, help="Uploads per second.")
        parser.add_argument("--allow-embedded", action="store_true", help="Measure without Redis (in-process tasks).")

    def handle(self, *args, **options):
        if not settings.REDIS_URL and not options["allow_embedded"]:
            raise CommandError("Set REDIS_URL (and run a worker): the figure is for the production path.")
        keys_file = settings.BASE_DIR / "var" / "latency-keys.json"
        report = seed(keys_file=keys_file)
        keys = json.loads(keys_file.read_text())
        user = self._probe_user(report.site)
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        children = []
        url = options["url"].rstrip("/")
        try:
            if options["spawn"]:
                url, children = self._spawn()
            self._wait(url)
            figures = self._measure(url, session.session_key, keys["DP-ZR-DOCK"], options["uploads"], options["rate"])
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            session.delete()
        self.stdout.write(figures)

    def _probe_user(self, site):
        User = get_user_model()
        user = User.objects.filter(username="latency-probe").first()
        if user is None:
            user = User.objects.create_user(username="latency-probe", password=None)
            user.groups.add(Group.objects.get(name="viewer"))
            tracker_services.site_grant_access(site=site, user=user)
        return user

    def _spawn(self):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = open(settings.BASE_DIR / "var" / "latency-servers.log", "w")  # closed with the process
        manage = str(settings.BASE_DIR / "manage.py")
        children = [
            subprocess.Popen(
                [sys.executable, manage, "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
        ]
        if settings.REDIS_URL:
            children.append(
                subprocess.Popen(  # our interpreter, our arguments
                    [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "--concurrency", "2"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return f"http://127.0.0.1:{port}", children

    def _wait(self, url: str) -> None:
        """Until the server answers and (with Redis) a worker replies to the health check's ping."""
        deadline = time.monotonic() + 90
        query = "?worker=1" if settings.REDIS_URL else ""
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{url}/healthz{query}", timeout=5)
                worker = response.json().get("checks", {}).get("worker", {})
                if response.status_code == 200 and (not query or worker.get("ok")):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise CommandError(f"No server (or no worker) at {url}.")

    def _measure(self, url: str, session_key: str, key: str, n: int, rate: float) -> str:
        from websockets.sync.client import connect

        arrivals: dict[int, float] = {}
        ready = threading.Event()
        done = threading.Event()
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        ws_url = url.replace("http", "ws", 1) + f"/ws/sites/{layout.SITE_CODE}/"

        def listen() -> None:
            from websockets.exceptions import ConnectionClosed

            with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": url}, open_timeout=10) as ws:
                ready.set()
                while not done.is_set():
                    try:
                        message = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    except ConnectionClosed:
                        return
                    event = json.loads(message)
                    if event.get("type") == "tag.seen" and "upload" in event:
                        arrivals.setdefault(int(event["upload"]), time.monotonic())

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        if not ready.wait(15):
            raise CommandError("Could not open the site's websocket (is the server ASGI?).")
        accepted: dict[int, float] = {}
        post_times: list[float] = []
        run = int(time.time()) % 100000
        with httpx.Client(base_url=url, timeout=15) as client:
            for i in range(-WARMUP, n):
                started = time.monotonic()
                tag = f"urn:epc:id:grai:{layout.COMPANY_PREFIX}.00002.{run * 1000 + WARMUP + i}"
                body = writers.zebra_iotc(
                    [writers.Read(tag, 1, dt.datetime.now(dt.UTC), -50, 2)], first_event_num=i + WARMUP + 1
                )
                response = client.post(
                    "/api/v1/devices/uploads/",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {key}",
                        "Content-Type": "application/json",
                    },
                )
                now = time.monotonic()
                if response.status_code != 202:
                    raise CommandError(f"upload {i} answered {response.status_code}: {response.text[:200]}")
                if i >= 0:  # the first few warm the worker's and server's connections up: not counted
                    accepted[response.json()["id"]] = now
                    post_times.append(now - started)
                time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
            deadline = time.monotonic() + 15
            while len([u for u in accepted if u in arrivals]) < len(accepted) and time.monotonic() < deadline:
                time.sleep(0.1)
            partial = []
            for _ in range(20):
                started = time.monotonic()
                client.get("/wip/", headers={"HX-Request": "true", "Cookie": cookie})
                partial.append(time.monotonic() - started)
        done.set()
        latencies = [max(arrivals[u] - t, 0.0) for u, t in accepted.items() if u in arrivals]
        if not latencies:
            raise CommandError("No event arrived: is a worker running?")
        ms = [x * 1000 for x in latencies]
        render_ms = statistics.median(partial) * 1000
        page = [x + COALESCE_S * 1000 + render_ms for x in ms]
        mode = "Celery worker + Redis channel layer" if settings.REDIS_URL else "in-process tasks (embedded)"
        return "\n".join(
            [
                f"Live latency over {len(ms)} of {n} uploads ({mode}, database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}):",
                f"  upload 202 -> websocket event: median {statistics.median(ms):.0f} ms, p95 {_percentile(ms, 0.95):.0f} ms, "
                f"max {max(ms):.0f} ms",
                f"  POST -> 202:                   median {statistics.median(post_times) * 1000:.0f} ms",
                f"  board partial render (htmx):   median {render_ms:.0f} ms",
                f"  202 -> page updated (event + {COALESCE_S * 1000:.0f} ms coalescing + partial): "
                f"median {statistics.median(page):.0f} ms, p95 {_percentile(page, 0.95):.0f} ms",
            ]
        )
