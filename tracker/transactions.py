"""Service transactions, with a savepoint only where a caller can go on after a failure.

A service is all-or-nothing: one ``atomic`` block. Called inside another
transaction, Django's ``atomic`` makes that block a savepoint (``SAVEPOINT`` and
``RELEASE SAVEPOINT``: two more round trips), so that a caller that catches the
service's error can roll back just the service's writes and go on.

A write request's transaction (``request_transaction()``: an API create with its
Idempotency-Key record) never goes on after an error: whatever the service
raises leaves the request's block, and the whole transaction rolls back. The
first service it calls (``@service_atomic``) then joins the request's
transaction without a savepoint. Services that one calls in turn get their
savepoints again, since it may catch their errors and go on (a shipment's bad
line, say). A view that calls a service inside ``request_transaction()`` must
not catch the service's error and go on writing: it may only re-raise (after
the error, the transaction accepts no more queries until it has rolled back).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from django.db import transaction

P = ParamSpec("P")
R = TypeVar("R")

#: True directly inside a request's transaction: no service of it is caught and gone on from.
_ends_on_error: ContextVar[bool] = ContextVar("request_transaction_ends_on_error", default=False)


@contextmanager
def request_transaction() -> Iterator[None]:
    """The outermost transaction of a write request that ends on any error (see the module)."""
    with transaction.atomic():
        token = _ends_on_error.set(True)
        try:
            yield
        finally:
            _ends_on_error.reset(token)


def service_atomic(func: Callable[P, R]) -> Callable[P, R]:
    """``@transaction.atomic`` for a service: the same all-or-nothing block, without the savepoint
    when it runs directly in a ``request_transaction()`` (see the module)."""

    @functools.wraps(func)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        if not _ends_on_error.get():
            with transaction.atomic():
                return func(*args, **kwargs)
        token = _ends_on_error.set(False)  # what this service calls may be caught: savepoints again
        try:
            with transaction.atomic(savepoint=False):
                return func(*args, **kwargs)
        finally:
            _ends_on_error.reset(token)

    return inner
