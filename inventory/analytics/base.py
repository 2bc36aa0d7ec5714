"""What every report shares: the ``Report`` shape, the period window, ratios, and the site's
levels now and daily flows (shared with ``wip.analytics``, which imports ``Report``, ``_ratio``
and ``_window`` from here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import StockDaily, StockLevel
from tracker.models import Site

MONEY = DecimalField(max_digits=24, decimal_places=4)
QTYF = DecimalField(max_digits=18, decimal_places=4)
ZERO = Decimal("0")


@dataclass
class Report:
    """Rows of one report plus what the page, the exports and the chart need."""

    slug: str
    title: str
    columns: list[tuple[str, str]]  # (key, heading)
    rows: list[dict[str, Any]]
    chart: tuple[str, str] | None = None  # (label key, value key) for a bar chart of the first rows
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def report_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``values()`` rows as the plain dicts a report holds and reshapes (adds, renames, drops keys)."""
    return [dict(row) for row in rows]


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in UTC: the period includes its end date."""
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC),
    )


def _levels_now(site: Site) -> dict[int, Decimal]:
    """On hand per item at the site's real locations now (one grouped query)."""
    return dict(
        StockLevel.objects.filter(site=site, location__is_virtual=False)
        .order_by()
        .values("item_id")
        .annotate(s=Sum("on_hand"))
        .values_list("item_id", "s")
    )


def _daily(site: Site) -> QuerySet[StockDaily]:
    return StockDaily.objects.filter(site=site).order_by()


def _flows_since(site: Site, start: dt.date, **sums: Sum) -> dict[int, dict[str, Decimal]]:
    """Per item with a flow at the site since ``start`` (included): the ``sums`` (over the
    daily rollup's columns). One grouped query over the item's days since then."""
    # Aliased: an annotation may not take the name of the column it sums.
    # Read as mappings: the stubs know only ``item_id`` of these rows, not the sums named at run time.
    rows: Iterable[Mapping[str, Any]] = (
        _daily(site)
        .filter(day__gte=start)
        .values("item_id")
        .annotate(**{f"sum_{name}": Coalesce(agg, Value(ZERO), output_field=QTYF) for name, agg in sums.items()})
    )
    return {row["item_id"]: {name: row[f"sum_{name}"] for name in sums} for row in rows}


def _ids(ids) -> list[int]:
    """Ids for ``pk__in``; never empty, because Django skips the query for an empty list and the
    page's query count must not depend on the data (0 is no primary key)."""
    return list(ids) or [0]


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _ratio(a: Decimal, b: Decimal, places: str = "0.01") -> Decimal | None:
    return (a / b).quantize(Decimal(places)) if b else None
