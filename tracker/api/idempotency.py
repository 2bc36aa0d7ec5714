"""Idempotency-Key for creates: a retry replays the first answer, once.

The key is recorded in the same transaction as the create's effects. A
concurrent duplicate blocks on the unique key until the first commits, then
replays its answer; if the first failed, nothing was recorded and the retry
runs afresh. The same key with a different body is a 422.

A view method that writes is decorated ``@idempotent_write``: the whole method
(validation, lookups and the service call) runs inside ``idempotent()``, so a
refused request records nothing and a retry replays before anything else runs.
The method may re-raise a service's error but never catch it and go on: the
services join the request's transaction without a savepoint
(``tracker.transactions``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracker.api.problems import problem_response
from tracker.bound_cursor import bound_cursor
from tracker.models import IdempotencyRecord
from tracker.transactions import request_transaction

HEADER = "Idempotency-Key"

ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Any])


def _owner(request) -> str:
    device = getattr(request, "device", None)
    if device is not None:
        return f"device:{device.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(b"\0")
    try:
        digest.update(request.body)
    except RawPostDataException:
        # A form body already read by the CSRF check: fingerprint the parsed data.
        digest.update(json.dumps(request.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _claim(*, owner: str, key: str, method: str, path: str, fingerprint: str) -> int | None:
    """Record the key for this request: its record's id, or None if it is already recorded.

    ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): a concurrent
    duplicate waits on the unique index until the first transaction ends, then
    inserts (the first rolled back) or does nothing (it committed). Unlike a
    savepoint around ``create()``, it costs one round trip, not three.
    """
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with bound_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner, key, method, path, request_hash, status_code, response_body, created_at) "  # noqa: S608 - table name from the model
            "VALUES (%s, %s, %s, %s, %s, 0, NULL, %s) ON CONFLICT (owner, key) DO NOTHING RETURNING id",
            [owner, key, method, path[:500], fingerprint, now],
        )
        row = cursor.fetchone()
        return None if row is None else int(row[0])


def _record_answer(record_id: int, response: Response) -> None:
    """Store the answer on the claimed record: the UPDATE ``filter(pk=...).update(...)`` sends,
    by hand (every idempotent write runs it; building it through the ORM cost more than running it).

    The body goes as the JSON text the answer renders to, as the JSON column takes it on both
    databases (PostgreSQL types the parameter from the column), not parsed and dumped again."""
    body = JSONRenderer().render(response.data).decode() if response.data is not None else None
    q = connection.ops.quote_name
    with bound_cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(IdempotencyRecord._meta.db_table)} SET status_code = %s, response_body = %s WHERE id = %s",  # noqa: S608 - table name from the model
            [response.status_code, body, record_id],
        )


def idempotent(request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` (which performs the create) at most once per key."""
    key = request.headers.get(HEADER)
    if key is None:
        with request_transaction():
            return handler()
    key = key.strip()
    if not key or len(key) > 255:
        return problem_response(
            status_code=400,
            code="invalid_idempotency_key",
            title="Invalid Idempotency-Key",
            detail="Idempotency-Key must be 1 to 255 characters.",
        )
    owner, fingerprint = _owner(request), _fingerprint(request)
    with request_transaction():  # the services it calls join it without savepoints (tracker.transactions)
        record_id = _claim(owner=owner, key=key, method=request.method, path=request.path, fingerprint=fingerprint)
        if record_id is None:
            record = IdempotencyRecord.objects.get(owner=owner, key=key)
            if record.request_hash != fingerprint:
                return problem_response(
                    status_code=422,
                    code="idempotency_key_reused",
                    title="Idempotency-Key reused",
                    detail="This Idempotency-Key was used with a different request.",
                )
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = handler()
        _record_answer(record_id, response)
        return response


def idempotent_write(method: ViewMethod) -> ViewMethod:
    """Decorate a view method (``create`` or a POST ``@action``) that performs a write:
    it runs at most once per Idempotency-Key, in one transaction with the key's record."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        # Parse the body before the claim (unless the view read it raw), as the views
        # did when they validated first: the fingerprint is then of the parsed data,
        # and a large multipart upload is streamed, not loaded whole.
        if not getattr(request._request, "_read_started", False):
            _ = request.data
        return idempotent(request, functools.partial(method, self, request, *args, **kwargs))

    return wrapper  # type: ignore[return-value]
