"""A cursor that sends parameters apart from the statement, for the hot hand-written SQL.

Django's PostgreSQL backend binds parameters on the client: psycopg quotes every value into
the statement's text in Python (``PostgresClientQuery.dump``), and above 50 parameters it also
re-parses the statement on every call (its cache of parsed statements stops there). For the
few statements every stock posting and poll runs (the moves' and the rollup's multi-row
INSERTs, the level lock, the natural-key look-up), that was a tenth of a receipt's CPU.
``bound_cursor()`` gives those statements psycopg's server-binding cursor instead: the
values travel as protocol parameters, dumped by psycopg's C dumpers.

Safe behind PgBouncer in transaction pooling: the statement is sent as an unnamed one
(``Parse``/``Bind``/``Execute`` in one round trip), never prepared under a name, because
Django opens every connection with ``prepare_threshold=None`` (``config/settings.py`` keeps
it so). It is Django's own ``ServerBindingCursor`` (the cursor of the ``server_side_binding``
option), wrapped as ``connection.cursor()`` wraps its cursors, so the statement is counted
and logged (``assertNumQueries``, ``connection.queries``) and passes the execute wrappers.

Only statements whose every placeholder has a type PostgreSQL can infer from its place (a
column it is compared with or assigned to, a ``CAST``) may use it: an untyped ``%s`` in a
select list is an error under server binding. On other databases it is ``connection.cursor()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def bound_cursor() -> Iterator[Any]:
    """A cursor of the default connection whose parameters PostgreSQL binds (see the module)."""
    # The connection itself, looked up once: each attribute of ``django.db.connection`` is a
    # look-up in the per-thread connections (six of them here were a tenth of a millisecond).
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    conn.close_if_health_check_failed()
    conn.ensure_connection()
    with conn.wrap_database_errors:
        # connection.cursor() without create_cursor(): the same checks and wrapping.
        raw = ServerBindingCursor(conn.connection)  # type: ignore[call-arg]  # psycopg's Cursor(connection); the stubs see object
        cursor = conn._prepare_cursor(raw)  # type: ignore[attr-defined]  # Django's, not in the stubs
    with cursor:
        yield cursor
