"""``make demo``: migrate, seed the demo plant once, then run the ASGI server, the
worker (a real Celery worker and beat with ``REDIS_URL``, else their in-process
equivalent) and the simulator together; print the address and the logins.
Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from demo.management.commands.simulate import summary
from demo.simulator import layout
from demo.simulator.model import Config
from demo.simulator.runner import HttpTransport, simulate
from demo.simulator.seed import load_keys


class Command(BaseCommand):
    help = "Set up and run the demo plant: server, worker and simulated readers (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("DEMO_PORT", "8000"))
        parser.add_argument(
            "--speed",
            type=float,
            default=float(os.environ.get("DEMO_SPEED", "60")),
            help="Simulated seconds per real second.",
        )
        parser.add_argument(
            "--duration", type=float, default=None, help="Stop the simulator after these simulated minutes."
        )
        parser.add_argument("--no-simulator", action="store_true")

    def handle(self, *args, **options):
        # Ctrl-C and a plain kill both stop everything in order (even when started with
        # SIGINT ignored, as shells do for background jobs).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=1, speed=options["speed"], stdout=self.stdout)
        connection.close()  # the children open their own; SQLite prefers no idle writer here
        url = f"http://{options['addr']}:{options['port']}"
        children: list[subprocess.Popen] = []
        stop = threading.Event()
        threads: list[threading.Thread] = []
        result: dict = {}
        try:
            children.append(
                self._spawn(["runserver", "--noreload", "--skip-checks", f"{options['addr']}:{options['port']}"])
            )
            if settings.REDIS_URL:
                celery = [sys.executable, "-m", "celery", "-A", "config"]
                children.append(
                    subprocess.Popen(
                        [*celery, "worker", "-l", "warning", "--concurrency", "2"],
                        start_new_session=True,
                    )
                )
                beat = [
                    *celery,
                    "beat",
                    "-l",
                    "warning",
                    "--schedule",
                    str(settings.BASE_DIR / "var" / "celerybeat-schedule"),
                ]
                children.append(subprocess.Popen(beat, start_new_session=True))  # our interpreter
                worker = "Celery worker and beat (Redis)"
            else:
                threads.append(threading.Thread(target=_in_process_beat, args=(stop,), name="beat", daemon=True))
                worker = "in-process tasks and periodic checks"
            self._wait_for(url, children[0])
            if not options["no_simulator"]:
                config = Config(speed=options["speed"], duration=options["duration"])
                threads.append(
                    threading.Thread(target=_simulate, args=(config, url, stop, result), name="simulator", daemon=True)
                )
            for thread in threads:
                thread.start()
            self._banner(url, worker, simulated=not options["no_simulator"])
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A demo process stopped; stopping the others.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo ...")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            for child in children:
                _stop(child)
            if "engine" in result:
                self.stdout.write(summary(result["engine"], result["actuator"]))

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        # A session of its own: Ctrl-C reaches this command only, which stops the
        # simulator first and then each child in turn (no upload into a dead server).
        return subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
            start_new_session=True,
        )

    def _wait_for(self, url: str, server: subprocess.Popen, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("The server did not start (is the port in use? set DEMO_PORT).")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise CommandError(f"The server did not answer at {url} within {timeout:.0f} s.")

    def _banner(self, url: str, worker: str, *, simulated: bool) -> None:
        line = "=" * 72
        self.stdout.write(self.style.SUCCESS(line))
        self.stdout.write(self.style.SUCCESS(f"Shopfloor demo plant is running at {url}/"))
        self.stdout.write(f"  WIP board:       {url}/wip/")
        self.stdout.write(f"  Plant dashboard: {url}/devices/live/plant/")
        self.stdout.write(f"  Asset finder:    {url}/devices/live/find/")
        self.stdout.write(f"  Tasks:           {worker}")
        if simulated:
            self.stdout.write(
                "  Simulator:       work orders, totes and a cold store sensor, posting as Zebra, Impinj "
                "and Ruuvi devices"
            )
        self.stdout.write(
            f"  Log in as supervisor / {layout.DEMO_PASSWORD} (every role has a user: manager, planner, "
            "operator, clerk, inspector, viewer, partner; admin for the Django admin)"
        )
        self.stdout.write("  Ctrl-C stops everything.")
        self.stdout.write(self.style.SUCCESS(line))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _simulate(config: Config, url: str, stop: threading.Event, result: dict) -> None:
    transport = HttpTransport(url, load_keys())
    try:
        result["engine"], result["actuator"] = simulate(config=config, transport=transport, stop=stop)
    except Exception:  # the demo keeps serving pages even if the simulator fails
        import logging

        logging.getLogger("demo.simulator").exception("the simulator stopped")
    finally:
        transport.close()
        connection.close()


def _in_process_beat(stop: threading.Event) -> None:
    """Celery beat's schedule, run in this process (the embedded default has no broker)."""
    from config.celery import app

    app.loader.import_default_modules()
    app.finalize()
    schedule = app.conf.beat_schedule or {}
    due = {name: time.monotonic() + 15 for name in schedule}
    while not stop.wait(1.0):
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < due[name]:
                continue
            period = entry["schedule"] if isinstance(entry["schedule"], int | float) else 60.0
            due[name] = now + max(float(period), 10.0)
            task = app.tasks.get(entry["task"])
            if task is None:
                continue
            close_old_connections()
            try:
                task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            except Exception:  # one failing check must not stop the others
                import logging

                logging.getLogger("demo.simulator").exception("periodic task %s failed", name)
    connection.close()


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=8)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=5)
