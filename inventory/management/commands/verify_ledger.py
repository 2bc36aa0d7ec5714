"""``manage.py verify_ledger``: the ledger invariant, checked; non-zero exit with the differences."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_differences


class Command(BaseCommand):
    help = "Check that every stock level equals its ledger sum and no real level is negative."

    def handle(self, *args, **options):
        problems = ledger_differences()
        if not problems:
            self.stdout.write(self.style.SUCCESS("Ledger OK: every level equals its ledger sum."))
            return
        for p in problems:
            item_id, location_id, lot_id = p["key"]
            detail = ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("problem", "key"))
            self.stderr.write(f"{p['problem']}: item={item_id} location={location_id} lot={lot_id} {detail}")
        raise CommandError(f"{len(problems)} ledger problem(s).")
