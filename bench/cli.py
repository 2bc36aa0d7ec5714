"""``python -m bench`` (``make bench``): run the benchmarks, or one of them with its options.

    python -m bench                       # every benchmark in turn, with its defaults
    python -m bench --list                # what there is
    python -m bench --only api,ingest     # some of them, with their defaults
    python -m bench api --only transfer --duration 30   # one, with its own options
    python -m bench api --help

Each benchmark is a Django ``BaseCommand`` in ``bench/commands/`` (so its options,
output and ``CommandError`` handling are the familiar ones), run here rather than
through ``manage.py``: the ``bench`` package is no installed app. ``seed_ledger``
(data for the others) and ``live_latency`` (needs a worker and Redis) are not part
of the run-all. One benchmark failing does not stop the others; the exit status
says whether all passed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.core.management.color import color_style

PROG = "python -m bench"

# name -> (module, part of the run-all)
BENCHMARKS: dict[str, tuple[str, bool]] = {
    "api": ("bench.commands.api", True),
    "ingest": ("bench.commands.ingest", True),
    "reports": ("bench.commands.reports", True),
    "cpu": ("bench.commands.cpu", True),
    "handoff": ("bench.commands.handoff", True),
    "seed_ledger": ("bench.commands.seed_ledger", False),
    "live_latency": ("bench.commands.live_latency", False),
}


def command(name: str) -> BaseCommand:
    """The benchmark's command object; ``bench_api`` and ``api`` both name the API benchmark."""
    key = name.removeprefix("bench_").replace("-", "_")
    if key not in BENCHMARKS:
        raise CommandError(f"no benchmark {name!r}; there are: {', '.join(BENCHMARKS)}")
    module = importlib.import_module(BENCHMARKS[key][0])
    cmd: BaseCommand = module.Command()
    return cmd


def run_one(name: str, args: list[str]) -> None:
    """Parse ``args`` with the benchmark's own options and run it (exits 1 on a ``CommandError``)."""
    command(name).run_from_argv([PROG, name.removeprefix("bench_"), *args])


def run_all(*, only: str = "", list_only: bool = False) -> int:
    """The run-all benchmarks (or those named in ``only``) in turn; 0 when all passed."""
    out, err, style = OutputWrapper(sys.stdout), OutputWrapper(sys.stderr), color_style()
    chosen = [name for name, (_, in_all) in BENCHMARKS.items() if in_all]
    if only:
        wanted = {n.strip().removeprefix("bench_") for n in only.split(",") if n.strip()}
        chosen = [name for name in BENCHMARKS if name in wanted]
    if list_only:
        for name in chosen:
            out.write(f"{name}: {command(name).help}")
        return 0
    if not chosen:
        err.write(style.ERROR("No benchmarks chosen."))
        return 1
    from django.core.management import call_command

    failed = []
    for name in chosen:
        out.write(style.MIGRATE_HEADING(f"== {name}"))
        started = time.monotonic()
        try:
            call_command(command(name), stdout=out, stderr=err)
        except Exception as exc:  # report and go on with the next benchmark
            failed.append(name)
            err.write(style.ERROR(f"{name} failed: {exc}"))
        out.write(f"== {name} took {time.monotonic() - started:.0f} s")
    if failed:
        err.write(style.ERROR(f"benchmarks failed: {', '.join(failed)}"))
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        try:
            run_one(argv[0], argv[1:])
        except CommandError as exc:  # an unknown name; the benchmarks' own errors exit in run_from_argv
            sys.stderr.write(f"{PROG}: {exc}\n")
            return 2
        return 0
    parser = argparse.ArgumentParser(prog=PROG, description="Run every benchmark (or some) with its defaults.")
    parser.add_argument("--only", default="", help="Comma-separated benchmark names (e.g. ingest,reports).")
    parser.add_argument("--list", action="store_true", help="List the benchmarks and exit.")
    options = parser.parse_args(argv)
    return run_all(only=options.only, list_only=options.list)
