"""The hot hand-written SQL's cursor (tracker.bound_cursor) and its INSERT parameters
(tracker.sqlrows.save_params): counted like any query, bound by PostgreSQL, never prepared
under a name (PgBouncer's transaction pooling), and prepared as bulk_create prepares them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import StockDaily, StockMove
from tests.factories.tracker import SiteFactory
from tracker import services
from tracker.bound_cursor import bound_cursor
from tracker.models import Location, LocationKind
from tracker.sqlrows import save_params

pytestmark = pytest.mark.django_db

postgres = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="server-side binding is PostgreSQL's (set DATABASE_URL)"
)


def _site_code(code: str) -> list[tuple[str]]:
    with bound_cursor() as cursor:
        cursor.execute("SELECT code FROM tracker_site WHERE code = %s", [code])
        return cursor.fetchall()


def test_statements_are_counted_like_any_query():
    site = SiteFactory(code="o'brien")
    with CaptureQueriesContext(connection) as ctx:
        assert _site_code(site.code) == [("o'brien",)]
    assert len(ctx.captured_queries) == 1
    assert "tracker_site" in ctx.captured_queries[0]["sql"]


@pytest.mark.postgres
@postgres
def test_postgres_binds_the_values_and_never_prepares_a_named_statement():
    SiteFactory(code="o'brien")
    import psycopg

    with bound_cursor() as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)
    for _ in range(10):  # psycopg would prepare from the 5th run unless prepare_threshold is None
        assert _site_code("o'brien") == [("o'brien",)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


def test_insert_params_are_what_bulk_create_would_send():
    now = timezone.now()
    move = StockMove(
        kind="transfer",
        item_id=1,
        quantity=Decimal("2.5000"),
        source_id=2,
        destination_id=3,
        lot_id=None,
        serial_id=None,
        reference="R-1",
        reference_type="",
        partner="",
        external_id="",
        batch=uuid.uuid4(),
        occurred_at=now,
        recorded_at=now,
        actor_id=None,
        note="",
    )
    fields = [f for f in StockMove._meta.concrete_fields if not f.primary_key]
    values = [getattr(move, f.attname) for f in fields]
    assert save_params(fields, [values]) == [
        f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)
    ]
    daily_fields = [StockDaily._meta.get_field(n) for n in ("day", "inflow", "last_out_at", "merged")]
    row = (dt.date(2026, 12, 2), Decimal("1"), now, False)
    assert save_params(daily_fields, [row, row]) == 2 * [
        f.get_db_prep_save(v, connection) for f, v in zip(daily_fields, row, strict=True)
    ]


def test_virtual_location_reads_the_row_the_orm_would():
    site = SiteFactory()
    found = services.virtual_location(site=site, kind=LocationKind.SUPPLIER)
    expected = Location.objects.get(site=site, kind=LocationKind.SUPPLIER)
    assert found == expected
    assert [getattr(found, f.attname) for f in Location._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in Location._meta.concrete_fields
    ]
    assert services.virtual_location(site=site.pk, kind=LocationKind.SUPPLIER) == expected
    with pytest.raises(Location.DoesNotExist):
        services.virtual_location(site=site, kind=LocationKind.BIN)
