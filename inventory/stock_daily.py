"""The daily rollup of the ledger that the inventory reports read (``StockDaily``).

Per (site, item, UTC day of ``occurred_at``):

* ``inflow``: moved into the site's real locations from anywhere else (a supplier, production,
  an adjustment, transit, another site);
* ``outflow``: moved out of them to anywhere else;
* ``consumed`` and ``last_out_at``: issued or shipped from the site, and the latest such move.

A move between two real locations of one site changes none of these and writes nothing.

Kept exact three ways:

* ``record_post()``, called by ``inventory.services._post`` in the post's transaction: one
  INSERT of one row per (site, item) the post changes (on PostgreSQL ``post_rows()``, the same
  INSERT sent as a ``WITH`` query of the moves' own). Append-only on purpose: adding into a
  single row per (site, item, day) would make every receipt of an item at a site queue on that
  row until commit (the hot row ``inventory.locks`` keeps away from virtual locations), and a
  transaction posting twice could deadlock holding it against another's level locks.
* ``merge()``: folds each day's rows into one (beat, every few minutes), so a report reads about
  one row per item and day however many posts there were.
* ``rebuild()``: from the ledger, idempotent (the data migration, ``bench_seed_ledger`` after its
  bulk load, ``manage.py rebuild_stock_daily``).

``differences()`` lists the keys where the rollup and the ledger disagree (``verify_ledger``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import DateTimeField, Exists, F, Max, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncDate

from inventory.models import ZERO, StockDaily, StockMove
from tracker.bound_cursor import bound_cursor
from tracker.models import Location
from tracker.sqlrows import Statement, save_params

#: kinds that consume stock (the reports' consumption, ABC and last issue)
OUT_KINDS = (StockMove.Kind.ISSUE, StockMove.Kind.SHIP)

#: (site_id, item_id, day)
DailyKey = tuple[int, int, dt.date]


class _Flows:
    __slots__ = ("consumed", "inflow", "last_out_at", "outflow")

    def __init__(self) -> None:
        self.inflow = self.outflow = self.consumed = ZERO
        self.last_out_at: dt.datetime | None = None

    def add_out(self, quantity: Decimal, at: dt.datetime) -> None:
        self.consumed += quantity
        if self.last_out_at is None or at > self.last_out_at:
            self.last_out_at = at


def _flows_of(moves: Iterable[StockMove], locations: Mapping[int, Location]) -> dict[DailyKey, _Flows]:
    flows: dict[DailyKey, _Flows] = defaultdict(_Flows)
    for move in moves:
        source, destination = locations[move.source_id], locations[move.destination_id]
        day = move.occurred_at.astimezone(dt.UTC).date()
        into = not destination.is_virtual and (source.is_virtual or source.site_id != destination.site_id)
        out_of = not source.is_virtual and (destination.is_virtual or destination.site_id != source.site_id)
        if into:
            flows[(destination.site_id, move.item_id, day)].inflow += move.quantity
        if out_of:
            flows[(source.site_id, move.item_id, day)].outflow += move.quantity
        if move.kind in OUT_KINDS:
            flows[(source.site_id, move.item_id, day)].add_out(move.quantity, move.occurred_at)
    return flows


_COLUMNS = ("site", "item", "day", "inflow", "outflow", "consumed", "last_out_at", "merged")


def _concrete_fields() -> list[tuple[str, models.Field[Any, Any]]]:
    """(column, field) of each of ``_COLUMNS``, which must all be concrete columns."""
    out = []
    for name in _COLUMNS:
        field = StockDaily._meta.get_field(name)
        if not isinstance(field, models.Field) or field.column is None:
            raise ImproperlyConfigured(f"StockDaily.{name} must be a concrete column")
        out.append((field.column, field))
    return out


def _insert_statement(rows: list[tuple[Any, ...]]) -> Statement:
    """One multi-row INSERT of ``rows`` (values in ``_COLUMNS`` order). Plain SQL: half the time
    of ``bulk_create`` (no instances, no RETURNING), and this runs in every post."""
    columns = _concrete_fields()
    fields = [field for _, field in columns]
    q = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {q(StockDaily._meta.db_table)} ({', '.join(q(column) for column, _ in columns)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(rows))}"
    )
    return sql, save_params(fields, rows)


def post_rows(moves: Iterable[StockMove], locations: Mapping[int, Location]) -> Statement | None:
    """The INSERT that adds one post's ``moves`` to the rollup (``locations``: every source and
    destination by pk), or None when no move crosses a site's boundary or consumes. For a
    caller that sends it with the moves' own INSERT (``inventory.services.posting``)."""
    flows = _flows_of(moves, locations)
    if not flows:
        return None
    return _insert_statement(
        [
            (site_id, item_id, day, f.inflow, f.outflow, f.consumed, f.last_out_at, False)
            for (site_id, item_id, day), f in sorted(flows.items())
        ]
    )


def record_post(moves: Iterable[StockMove], locations: Mapping[int, Location]) -> None:
    """Add the flows of one post's ``moves`` to the rollup: one INSERT (``post_rows``), none
    when there is nothing to add. Call inside the transaction that writes the moves."""
    statement = post_rows(moves, locations)
    if statement is not None:
        with bound_cursor() as cur:
            cur.execute(*statement)


# --- merge ---------------------------------------------------------------------------------------


def merge(*, batch: int = 20_000) -> int:
    """Fold the rows of every (site, item, day) that has unmerged rows into one merged row;
    at most about ``batch`` rows per call. Returns how many rows it read (0: nothing to do).

    Exact under concurrency: it deletes exactly the rows it read, locked with SKIP LOCKED (a
    concurrent merge takes other rows), and re-inserts their sums; rows that posts add
    meanwhile stay as they are for the next call.
    """
    unmerged = StockDaily.objects.filter(
        merged=False, site=OuterRef("site"), item=OuterRef("item"), day=OuterRef("day")
    )
    with transaction.atomic():
        rows = list(
            # of=self: lock these rows only, never the site or item rows that posts' FK checks share-lock
            StockDaily.objects.filter(Exists(unmerged))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("site_id", "item_id", "day", "pk")[:batch]
        )
        if not rows:
            return 0
        merged: dict[DailyKey, _Flows] = defaultdict(_Flows)
        for row in rows:
            f = merged[(row.site_id, row.item_id, row.day)]
            f.inflow += row.inflow
            f.outflow += row.outflow
            if row.consumed:
                if row.last_out_at is None:  # every writer sets both together
                    raise ValueError(f"StockDaily row {row.pk} has consumption but no last_out_at")
                f.add_out(row.consumed, row.last_out_at)
        StockDaily.objects.filter(pk__in=[row.pk for row in rows]).delete()
        StockDaily.objects.bulk_create(
            [
                StockDaily(
                    site_id=site_id,
                    item_id=item_id,
                    day=day,
                    inflow=f.inflow,
                    outflow=f.outflow,
                    consumed=f.consumed,
                    last_out_at=f.last_out_at,
                    merged=True,
                )
                for (site_id, item_id, day), f in sorted(merged.items())
            ]
        )
    return len(rows)


# --- from the ledger --------------------------------------------------------------------------------


def _ledger_sides(move_model: type[StockMove]) -> tuple[QuerySet, QuerySet]:
    """The ledger grouped by (site, item, UTC day), from each end of the moves: the inbound side
    (``inflow`` at the destination's site) and the outbound side (``outflow``, ``consumed`` and
    ``last_out_at`` at the source's site). Both select k_site, k_item, k_day, inflow, outflow,
    consumed, last_out_at, and only groups where one of them is not zero."""
    day = TruncDate("occurred_at", tzinfo=dt.UTC)
    moves = move_model.objects.order_by()
    within_site_in = Q(source__is_virtual=False, source__site=F("destination__site"))
    within_site_out = Q(destination__is_virtual=False, destination__site=F("source__site"))
    leaves = Q(source__is_virtual=False) & ~within_site_out
    out = Q(kind__in=OUT_KINDS)
    zero = Value(ZERO, output_field=move_model._meta.get_field("quantity"))
    columns = ("k_site", "k_item", "k_day", "inflow", "outflow", "consumed", "last_out_at")
    inbound = (
        moves.filter(destination__is_virtual=False)
        .exclude(within_site_in)
        .values(k_site=F("destination__site"), k_item=F("item"), k_day=day)
        .annotate(
            inflow=Sum("quantity"), outflow=zero, consumed=zero, last_out_at=Value(None, output_field=DateTimeField())
        )
        .values_list(*columns)
    )
    outbound = (
        moves.filter(leaves | out)
        .values(k_site=F("source__site"), k_item=F("item"), k_day=day)
        .annotate(
            inflow=zero,
            outflow=Sum("quantity", filter=leaves, default=ZERO),
            consumed=Sum("quantity", filter=out, default=ZERO),
            last_out_at=Max("occurred_at", filter=out),
        )
        .values_list(*columns)
    )
    return inbound, outbound


def rebuild(*, move_model: type[StockMove] = StockMove, daily_model: type[StockDaily] = StockDaily) -> int:
    """Replace the rollup by the ledger's aggregation (one merged row per key); returns the rows
    written. Idempotent. On PostgreSQL the table is locked against posts meanwhile, so a move
    committed during the rebuild is counted once. The models are parameters for the data
    migration (historical models)."""
    inbound, outbound = _ledger_sides(move_model)
    union_sql, params = inbound.union(outbound, all=True).query.sql_with_params()
    table = connection.ops.quote_name(daily_model._meta.db_table)
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        daily_model.objects.all().delete()
        cur.execute(
            f"INSERT INTO {table} (site_id, item_id, day, inflow, outflow, consumed, last_out_at, merged) "  # noqa: S608
            "SELECT k_site, k_item, k_day, SUM(inflow), SUM(outflow), SUM(consumed), MAX(last_out_at), %s "
            f"FROM ({union_sql}) AS sides GROUP BY k_site, k_item, k_day",
            [True, *params],  # merged comes first in the statement
        )
        return cur.rowcount


def differences() -> list[dict[str, Any]]:
    """Every (site, item, day) whose rollup rows do not add up to the ledger's aggregation.
    Empty list: the rollup is exact."""
    fields = ("inflow", "outflow", "consumed", "last_out_at")
    ledger: dict[DailyKey, dict[str, Any]] = defaultdict(
        lambda: {"inflow": ZERO, "outflow": ZERO, "consumed": ZERO, "last_out_at": None}
    )
    for side in _ledger_sides(StockMove):
        for site_id, item_id, day, *values in side:
            entry = ledger[(site_id, item_id, day)]
            for name, value in zip(fields, values, strict=True):
                if name == "last_out_at":
                    entry[name] = value if entry[name] is None or (value and value > entry[name]) else entry[name]
                else:
                    entry[name] += value
    rollup: dict[DailyKey, dict[str, Any]] = {
        (r["site_id"], r["item_id"], r["day"]): {
            "inflow": r["inflow"],
            "outflow": r["outflow"],
            "consumed": r["consumed"],
            "last_out_at": r["last_out_at"],
        }
        for r in StockDaily.objects.order_by()
        .values("site_id", "item_id", "day")
        .annotate(
            inflow=Sum("inflow"), outflow=Sum("outflow"), consumed=Sum("consumed"), last_out_at=Max("last_out_at")
        )
    }
    empty: dict[str, Any] = {"inflow": ZERO, "outflow": ZERO, "consumed": ZERO, "last_out_at": None}
    problems = []
    for key in sorted(set(ledger) | set(rollup)):
        want, have = ledger.get(key, empty), rollup.get(key, empty)
        wrong = [name for name in fields if want[name] != have[name]]
        if wrong:
            problems.append(
                {
                    "problem": "daily_mismatch",
                    "key": key,
                    **{name: f"ledger {_show(want[name])}, rollup {_show(have[name])}" for name in wrong},
                }
            )
    return problems


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)
