"""Read replicas: which database a query goes to.

Everything goes to ``default`` (the primary) unless the code asked for the
replica explicitly, for a block of read-only work that tolerates a little lag:

    with reading_from_replica():
        report = analytics.stock_turns(site=site, start=start, end=end)

or, for a queryset built by hand, ``Model.objects.using(replica_alias())``.

Why explicit and not by model: the same models (stock moves, uploads, work
orders) are read by postings that must see their own writes (a transfer reads the
levels it locks, an upload reads the tags it just created) and by reports that
need not. Only the code path knows which it is, so the router never guesses from
the model; it honours the block the path opened.

What uses the replica (``DATABASE_REPLICA_URL`` set): the inventory and WIP
report pages, their CSV/XLSX exports and API (``run_report``), the levels and
moves CSV exports (``.using()``: they stream after the view returns), the
forecast pages, and EPCIS queries. Postings, uploads, webhooks, sessions, API-key checks
and every Celery task use the primary. Without ``DATABASE_REPLICA_URL`` there is
no ``replica`` alias and the block changes nothing.

Inside a transaction on the primary (``atomic``) reads stay on the primary even in
the block: a transaction reads its own writes. (So in a test wrapped in a transaction,
as pytest-django's ``django_db`` is, everything reads ``default``; the replica alias
mirrors it in tests anyway: ``TEST["MIRROR"]``.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

# A ContextVar, not a thread-local: an ASGI request's sync code runs in a thread
# asgiref picks, with the request's context copied into it.
_reading_from_replica: ContextVar[bool] = ContextVar("shopfloor_reading_from_replica", default=False)

P = ParamSpec("P")
R = TypeVar("R")


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_alias() -> str:
    """``"replica"`` when one is configured, else ``"default"``: for ``.using(...)``."""
    return REPLICA if replica_configured() else DEFAULT_DB_ALIAS


@contextmanager
def reading_from_replica() -> Iterator[str]:
    """Within the block, reads that name no database go to the replica (when configured)."""
    token = _reading_from_replica.set(True)
    try:
        yield replica_alias()
    finally:
        _reading_from_replica.reset(token)


def on_replica(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`reading_from_replica` for a read-only selector."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reading_from_replica():
            return func(*args, **kwargs)

    return wrapper


class ReplicaRouter:
    """Reads in a :func:`reading_from_replica` block go to the replica; all else to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not _reading_from_replica.get() or not replica_configured():
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS  # the transaction must see its own writes
        return REPLICA

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # One database and its copy: objects from either may be related.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
