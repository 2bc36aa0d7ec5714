"""``make demo``: migrate, seed the demo plant once, run the server (and, when
available, the simulator), print the address and logins; Ctrl-C stops all."""

from __future__ import annotations

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Set up and run the demo plant."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("DEMO_PORT", "8000"))
        parser.add_argument("--no-simulator", action="store_true")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=1)
        self.stdout.write(self.style.SUCCESS(f"Shopfloor demo at http://{options['addr']}:{options['port']}/"))
        call_command("runserver", f"{options['addr']}:{options['port']}", use_reloader=False)
