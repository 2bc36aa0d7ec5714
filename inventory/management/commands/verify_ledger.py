"""``manage.py verify_ledger``: the ledger invariant, checked; non-zero exit with the differences."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_differences

KEY_NAMES = {"daily_mismatch": ("site", "item", "day")}


class Command(BaseCommand):
    help = (
        "Check that every stock level equals its ledger sum, no real level is negative and the "
        "reports' daily rollup equals the ledger."
    )

    def handle(self, *args, **options):
        problems = ledger_differences()
        if not problems:
            self.stdout.write(
                self.style.SUCCESS("Ledger OK: every level equals its ledger sum; the daily rollup equals the ledger.")
            )
            return
        for p in problems:
            names = KEY_NAMES.get(p["problem"], ("item", "location", "lot"))
            key = " ".join(f"{name}={value}" for name, value in zip(names, p["key"], strict=True))
            detail = ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("problem", "key"))
            self.stderr.write(f"{p['problem']}: {key} {detail}")
        raise CommandError(f"{len(problems)} ledger problem(s).")
