"""``python -m bench reports``: time every report page over the last year on the current database.

For a year of history, first generate a ledger (PostgreSQL):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopfloor_bench_reports \\
        python -m bench seed_ledger --moves 500000 --items 200
    DATABASE_URL=... python -m bench reports --site <code> --repeat 5

Prints, per page, the median wall time of ``--repeat`` GETs (Django test client,
as a superuser, HTML rendered) and its query count.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

from inventory import analytics
from tracker.models import Site
from tracker.selectors import SESSION_SITE_KEY
from wip import analytics as wip_analytics


class Command(BaseCommand):
    help = "Time the inventory and WIP report pages over the last year."

    def add_arguments(self, parser):
        parser.add_argument("--site", default="")
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, site, repeat, days, **options):
        setup_test_environment()
        target = Site.objects.filter(code=site).first() if site else Site.objects.order_by("pk").first()
        if target is None:
            raise CommandError("No site.")
        user, _ = get_user_model().objects.get_or_create(
            username="bench-reports", defaults={"is_superuser": True, "is_staff": True}
        )
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_SITE_KEY] = target.code
        session.save()
        end = timezone.localdate()
        start = end - dt.timedelta(days=days - 1)
        self.stdout.write(f"site {target.code}, {start}..{end}, {connection.vendor}")
        pages = [f"/inventory/analytics/{slug}/" for slug in analytics.REPORTS]
        pages += [f"/wip/analytics/{slug}/" for slug in wip_analytics.REPORTS]
        for page in pages:
            url = f"{page}?start={start}&end={end}"
            times = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    t0 = time.perf_counter()
                    response = client.get(url, HTTP_HOST="localhost")
                    times.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise CommandError(f"{url}: {response.status_code}")
            self.stdout.write(
                f"{page:40s} median {statistics.median(times) * 1000:8.1f} ms  "
                f"max {max(times) * 1000:8.1f} ms  {len(queries)} queries"
            )
