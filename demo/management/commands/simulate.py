"""Run the demo plant's discrete-event simulation against Shopfloor.

Real time (``--speed 60``: a simulated minute per real second) posts to a
running server (``--url``); ``--in-process`` posts through Django's test client
instead, and ``--speed 0`` runs as fast as it can with everything dated in
simulated time (for tests). Bounded by ``--duration`` (simulated minutes) and/or
``--orders``; unbounded real-time runs stop on Ctrl-C.
"""

from __future__ import annotations

import logging
import threading

from django.core.management.base import BaseCommand, CommandError

from demo.simulator.model import Config
from demo.simulator.runner import HttpTransport, InProcessTransport, simulate
from demo.simulator.seed import keys_path, load_keys


class Command(BaseCommand):
    help = "Simulate the demo plant: work orders, totes moving between stations, sensors, as real device uploads."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server's address.")
        parser.add_argument("--in-process", action="store_true", help="Post through Django's test client.")
        parser.add_argument(
            "--speed",
            type=float,
            default=60.0,
            help="Simulated seconds per real second (0: as fast as possible, dated in simulated time).",
        )
        parser.add_argument("--duration", type=float, default=None, help="Stop after this many simulated minutes.")
        parser.add_argument("--orders", type=int, default=None, help="Release at most this many work orders.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--keys-file", default=None, help="Device keys written by seed_demo.")

    def handle(self, *args, **options):
        if options["speed"] <= 0 and options["duration"] is None and options["orders"] is None:
            raise CommandError("--speed 0 needs a bound: --duration and/or --orders.")
        keys = load_keys(options["keys_file"] and __import__("pathlib").Path(options["keys_file"]) or keys_path())
        if not keys:
            raise CommandError("No device keys: run `SHOPFLOOR_DEMO=1 manage.py seed_demo` first (or `make demo`).")
        if options["verbosity"] > 1:
            logging.getLogger("demo.simulator").setLevel(logging.INFO)
        config = Config(
            speed=options["speed"], duration=options["duration"], orders=options["orders"], seed=options["seed"]
        )
        transport = InProcessTransport(keys) if options["in_process"] else HttpTransport(options["url"], keys)
        stop = threading.Event()
        try:
            engine, actuator = simulate(config=config, transport=transport, stop=stop)
        except KeyboardInterrupt:
            stop.set()
            self.stdout.write("Simulation stopped.")
            return
        finally:
            transport.close()
        self.stdout.write(summary(engine, actuator))


def summary(engine, actuator) -> str:
    s = engine.stats
    uploads = ", ".join(f"{code}: {n}" for code, n in sorted(actuator.counters.uploads.items()))
    queues = ", ".join(f"{k} {v}" for k, v in sorted(s.max_queue.items(), key=lambda kv: -kv[1]))
    lines = [
        f"Simulated {engine.now:.0f} min: released {s.released}, finished {s.finished}, moves {s.moves}, "
        f"starts {s.starts}, scrapped {s.scrapped}, failed inspections {s.failed_inspections}, "
        f"sensor posts {s.sensor_posts}.",
        f"Uploads by answer: {uploads or 'none'}. Longest queues: {queues or 'none'}.",
    ]
    if actuator.counters.fallback_arrivals:
        lines.append(
            f"Arrivals scanned in by hand (an upload did not arrive in time): {actuator.counters.fallback_arrivals}."
        )
    if actuator.counters.errors:
        lines.append("Refused by the services: " + ", ".join(f"{k} {v}" for k, v in actuator.counters.errors.items()))
    return "\n".join(lines)
