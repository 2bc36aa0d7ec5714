"""Build the demo plant (idempotent: a second run changes nothing) and print the logins."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from demo.simulator import layout
from demo.simulator.seed import seed


class Command(BaseCommand):
    help = (
        "Create the demo plant: site, stores, cold store, six workstations with readers, a cold-store sensor "
        "with its alarm, routings and BOMs, stock, tagged totes and pallets, a user of every role, and the "
        "device keys the simulator uses (kept in var/demo-keys.json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keys-file", type=Path, default=None, help="Where the simulator's device keys are kept.")
        parser.add_argument(
            "--speed",
            type=float,
            default=0.0,
            help="Simulated seconds per real second the simulator will run at (ideal cycle times follow it; "
            "0: a fast-forward dated in simulated time).",
        )

    def handle(self, *args, **options):
        report = seed(keys_file=options["keys_file"], speed=options["speed"])
        verbosity = options["verbosity"]
        if report.created:
            self.stdout.write(f"Demo plant {report.site.code}: created {len(report.created)} object(s).")
            if verbosity > 1:
                for line in report.created:
                    self.stdout.write(f"  + {line}")
        else:
            self.stdout.write(f"Demo plant {report.site.code} is already in place; nothing changed.")
        self.stdout.write(f"Device keys for the simulator: {report.keys_file}")
        self.stdout.write(f"Logins (password {layout.DEMO_PASSWORD!r} for every one):")
        for username, role in report.logins:
            self.stdout.write(f"  {username:<12} {role}")
