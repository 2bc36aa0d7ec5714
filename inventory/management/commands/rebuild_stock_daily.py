"""``manage.py rebuild_stock_daily``: recompute the reports' daily rollup from the ledger (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from inventory import stock_daily


class Command(BaseCommand):
    help = "Replace the daily rollup that the inventory reports read (StockDaily) by the ledger's aggregation."

    def handle(self, *args, **options):
        rows = stock_daily.rebuild()
        self.stdout.write(self.style.SUCCESS(f"Daily rollup rebuilt from the ledger: {rows} rows."))
