"""``manage.py bench`` (``make bench``): run every benchmark command there is.

A benchmark is any management command named ``bench_*``; commands that only
prepare data for another benchmark (``bench_seed_*``) or that set
``include_in_bench = False`` on their Command class are skipped. Each runs in
turn with its defaults; one failing does not stop the others, and the exit
status says whether all passed.
"""

from __future__ import annotations

import time

from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError


def benchmark_commands() -> list[tuple[str, str]]:
    """[(command name, app)] of the benchmarks, in name order."""
    found = []
    for name, app in sorted(get_commands().items()):
        if not name.startswith("bench_") or name.startswith("bench_seed"):
            continue
        command = load_command_class(app, name)
        if getattr(command, "include_in_bench", True):
            found.append((name, app))
    return found


class Command(BaseCommand):
    help = "Run every benchmark (manage.py bench_*) with its defaults."

    def add_arguments(self, parser):
        parser.add_argument("--only", default="", help="Comma-separated benchmark names (e.g. bench_ingest).")
        parser.add_argument("--list", action="store_true", help="List the benchmarks and exit.")

    def handle(self, *args, only, list, **options):  # noqa: A002 - the option's name
        chosen = benchmark_commands()
        if only:
            wanted = {n.strip() for n in only.split(",") if n.strip()}
            chosen = [(n, a) for n, a in chosen if n in wanted or n.removeprefix("bench_") in wanted]
        if list:
            for name, app in chosen:
                self.stdout.write(f"{name} ({app})")
            return
        if not chosen:
            raise CommandError("No benchmark commands found.")
        failed = []
        for name, _app in chosen:
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {name}"))
            started = time.monotonic()
            try:
                call_command(name, stdout=self.stdout, stderr=self.stderr)
            except (CommandError, Exception) as exc:  # noqa: BLE001 - report and go on with the next benchmark
                failed.append(name)
                self.stderr.write(self.style.ERROR(f"{name} failed: {exc}"))
            self.stdout.write(f"== {name} took {time.monotonic() - started:.0f} s")
        if failed:
            raise CommandError(f"benchmarks failed: {', '.join(failed)}")
