"""``python -m bench seed_ledger``: a ledger of N (default 10 million) moves in a
benchmark database, generated in PostgreSQL and cached there between runs.

Run it with ``DATABASE_URL`` pointing at a ``shopfloor_bench*`` database (it
is created if missing, and recreated when its cached ledger does not match):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopfloor_bench_ledger \\
        python -m bench seed_ledger --moves 10000000 --measure 300

``--measure N`` then times the real levels selector for one item across the
site N times (p50/p95) and prints its plan. ``--json`` prints one JSON line
with the figures for ``python -m bench api``.
"""

from __future__ import annotations

import json
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench import dbs, ledger


class Command(BaseCommand):
    help = "Generate (or reuse) a benchmark ledger of N moves with consistent levels; optionally time the levels query."

    def add_arguments(self, parser):
        parser.add_argument("--moves", type=int, default=10_000_000)
        parser.add_argument("--items", type=int, default=2000)
        parser.add_argument("--reset", action="store_true", help="Recreate the database even if its ledger is cached.")
        parser.add_argument("--measure", type=int, default=0, metavar="N", help="Time the levels selector N times.")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the result as one JSON line at the end."
        )

    def handle(self, *args, moves, items, reset, measure, as_json, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_seed_ledger needs PostgreSQL: set DATABASE_URL to a shopfloor_bench* database.")
        name = dbs.current_name()
        try:
            dbs.check_name(name)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        say = self.stderr.write if as_json else self.stdout.write
        if reset or not dbs.exists(name) or not ledger.is_cached(moves):
            connection.close()
            dbs.recreate(name)
            say(f"{name}: fresh database; generating {moves:,} moves")
        call_command("migrate", verbosity=0)
        info = ledger.generate(moves=moves, n_items=items, progress=say)
        if info.cached:
            say(f"{name}: cached ledger of {info.moves:,} moves reused")
        else:
            say(f"{name}: {info.moves:,} moves generated in {info.seconds:.0f}s; verifying the ledger")
            call_command("verify_ledger", stdout=self.stderr if as_json else self.stdout)
        result = {
            "database": name,
            "moves": info.moves,
            "cached": info.cached,
            "site": info.site_code,
            "username": info.username,
            "skus": info.sample_skus,
        }
        if measure:
            result["levels_query"] = self._measure(info, measure, say)
        if as_json:
            self.stdout.write(json.dumps(result))

    def _measure(self, info: ledger.LedgerInfo, n: int, say) -> dict:
        from inventory.models import Item
        from inventory.selectors import item_levels_at_site
        from tracker.models import Site

        user = get_user_model().objects.get(username=info.username)
        site = Site.objects.get(code=info.site_code)
        items = list(Item.objects.filter(sku__in=info.sample_skus))
        rows = len(list(item_levels_at_site(user=user, item=items[0], site=site)))  # warm the caches once
        timings = []
        for i in range(n):
            started = time.perf_counter()
            list(item_levels_at_site(user=user, item=items[i % len(items)], site=site))
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        qs = item_levels_at_site(user=user, item=items[0], site=site)
        with connection.cursor() as cur:
            sql, params = qs.query.sql_with_params()
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(r[0] for r in cur.fetchall())
        figures = {
            "n": n,
            "rows": rows,
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(0.95 * (n - 1))], 2),
            "max_ms": round(timings[-1], 2),
            "plan": plan,
        }
        say(
            f"levels of one item across {site.code} ({rows} rows), {n} runs: "
            f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms\n{plan}"
        )
        return figures
