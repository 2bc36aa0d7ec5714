"""Weekly demand from the ledger: issues to production plus shipments, by item and week.

One grouped query per site (``TruncWeek`` in the database); the moves are those
leaving the site's locations (``source__site``), so a transfer between sites is
not demand.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from inventory.forecasting.models import DemandForecast
from inventory.models import Item, StockMove
from tracker.models import Site

DEMAND_KINDS = (StockMove.Kind.ISSUE, StockMove.Kind.SHIP)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_demand(
    *, site: Site, item_ids: list[int] | None = None, weeks: int = 156, today: dt.date | None = None
) -> dict[int, tuple[list[dt.date], np.ndarray]]:
    """Per item: the Monday of each week and its demand, over the last ``weeks`` complete
    weeks (the current, partial week is left out so it does not read as a drop)."""
    today = today or timezone.localdate()
    end = week_start(today)
    start = end - dt.timedelta(weeks=weeks)
    tz = timezone.get_current_timezone()
    moves = StockMove.objects.filter(
        kind__in=DEMAND_KINDS,
        source__site=site,
        occurred_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        occurred_at__lt=dt.datetime.combine(end, dt.time.min, tzinfo=tz),
    )
    if item_ids is not None:
        moves = moves.filter(item_id__in=item_ids)
    rows = (
        moves.annotate(week=TruncWeek("occurred_at")).values("item_id", "week").annotate(q=Sum("quantity")).order_by()
    )
    per_item: dict[int, dict[dt.date, float]] = defaultdict(dict)
    for row in rows:
        week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
        per_item[row["item_id"]][week] = float(row["q"])
    calendar = [start + dt.timedelta(weeks=i) for i in range(weeks)]
    return {
        item_id: (calendar, np.array([values.get(w, 0.0) for w in calendar])) for item_id, values in per_item.items()
    }


def forecasts_for_user(*, user: Any, site: Site) -> QuerySet[DemandForecast]:
    return DemandForecast.objects.restrict(user, "view").filter(site=site).select_related("item").order_by("item__sku")


def forecast_for_item(*, user: Any, site: Site, item: Item) -> DemandForecast | None:
    return DemandForecast.objects.restrict(user, "view").filter(site=site, item=item).first()
