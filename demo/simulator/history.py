"""What a plant that has been running for a while has: past demand (so the forecasts have
something to stand on) and a second site (so the site switcher means something).

Both go through the inventory and tracker services, both are idempotent (found by their
reference or code), and neither leaves an item at zero on any day: the history's one
receipt covers every issue after it with the reorder point to spare.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from demo.simulator import layout
from inventory import services as stock
from inventory.forecasting.services import forecasts_refresh
from inventory.models import Item, StockMove
from tracker import services as tracker_services
from tracker.models import Location, Site, UserProfile

HISTORY_WEEKS = 20  # the forecasts need 16 weeks since the first demand
HISTORY_REF = "DEMO-HISTORY"
SECOND_SITE = ("demo-warehouse", "Demo Distribution Centre")
# Who works at both sites (the plant stays their default).
BOTH_SITES = ("manager", "planner", "clerk", "viewer")


def _weekly(spec: layout.Component, rng: random.Random) -> list[Decimal]:
    """A demand a planner would recognise: about a quarter of the reorder quantity a week, noisy."""
    base = float(spec.reorder_quantity) / 4
    out = []
    for _ in range(HISTORY_WEEKS):
        value = max(base * rng.uniform(0.6, 1.4), 0.0)
        out.append(Decimal(round(value)) if spec.unit == "pcs" else Decimal(str(round(value, 1))))
    return out


def demand_history(*, site: Site, created: list[str], now: dt.datetime | None = None) -> int:
    """Twenty weeks of issues to production per component (one receipt first), then the
    site's forecasts. Returns the number of forecasts computed (0 when already done)."""
    if StockMove.objects.filter(reference=HISTORY_REF).exists():
        return 0
    now = now or timezone.now()
    rng = random.Random(17)  # noqa: S311 - demo data, not a secret
    start = now - dt.timedelta(weeks=HISTORY_WEEKS, days=1)
    items = []
    for spec in layout.COMPONENTS:
        item = Item.objects.get(sku=spec.sku)
        location = Location.objects.get(code=spec.zone)
        weeks = _weekly(spec, rng)
        lot_code = "HIST-1" if spec.tracking == Item.Tracking.LOT else None
        expiry = timezone.localdate() + dt.timedelta(days=spec.shelf_life_days) if spec.shelf_life_days else None
        stock.stock_receive(
            item=item,
            quantity=sum(weeks, Decimal(0)) + spec.reorder_point,
            location=location,
            lot_code=lot_code,
            expiry_date=expiry,
            reference=HISTORY_REF,
            occurred_at=start,
        )
        lot = item.lots.filter(code=lot_code).first() if lot_code else None
        for n, quantity in enumerate(weeks):
            if quantity <= 0:
                continue
            stock.stock_issue(
                item=item,
                quantity=quantity,
                location=location,
                lot=lot,
                reference=HISTORY_REF,
                reference_type="history",
                occurred_at=start + dt.timedelta(weeks=n, days=1, hours=10),
            )
        items.append(item)
    created.append(f"demand history ({HISTORY_WEEKS} weeks, {len(items)} components)")
    return forecasts_refresh(site=site, items=items, now=now)


def second_site(*, created: list[str]) -> Site:
    """A distribution centre with a dock, two zones and a few bins, held by the office roles."""
    code, name = SECOND_SITE
    site = Site.objects.filter(code=code).first()
    if site is None:
        site = tracker_services.site_create(code=code, name=name, time_zone=layout.TIME_ZONE)
        created.append(f"site {code}")
    if not Location.objects.filter(site=site).exclude(is_virtual=True).exists():
        hall = tracker_services.location_create(site=site, code="DW", name="Warehouse hall", kind="area")
        tracker_services.location_create(site=site, code="DW-DOCK", name="Dock", kind="dock", parent=hall)
        for zone in ("A", "B"):
            parent = tracker_services.location_create(
                site=site, code=f"DW-{zone}", name=f"Aisle {zone}", kind="zone", parent=hall
            )
            for n in (1, 2):
                tracker_services.location_create(
                    site=site, code=f"DW-{zone}-{n:02d}", name=f"Aisle {zone} bin {n}", kind="bin", parent=parent
                )
        created.append(f"locations of {code}")
    User = get_user_model()
    plant = Site.objects.get(code=layout.SITE_CODE)
    for user in User.objects.filter(username__in=BOTH_SITES):
        tracker_services.site_grant_access(site=site, user=user)
        UserProfile.objects.update_or_create(user=user, defaults={"default_site": plant})
    return site
