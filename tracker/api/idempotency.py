"""Idempotency-Key for creates: a retry replays the first answer, once.

The key is recorded in the same transaction as the create's effects. A
concurrent duplicate blocks on the unique key until the first commits, then
replays its answer; if the first failed, nothing was recorded and the retry
runs afresh. The same key with a different body is a 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http.request import RawPostDataException
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracker.api.problems import problem_response
from tracker.models import IdempotencyRecord

HEADER = "Idempotency-Key"


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


def idempotent(request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` (which performs the create) at most once per key."""
    key = request.headers.get(HEADER)
    if key is None:
        with transaction.atomic():
            return handler()
    key = key.strip()
    if not key or len(key) > 255:
        return problem_response(
            status_code=400, code="invalid_idempotency_key", title="Invalid Idempotency-Key",
            detail="Idempotency-Key must be 1 to 255 characters.",
        )
    owner, fingerprint = _owner(request), _fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner, key=key, method=request.method, path=request.path[:500],
                    request_hash=fingerprint, status_code=0,
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(owner=owner, key=key)
            if record.request_hash != fingerprint:
                return problem_response(
                    status_code=422, code="idempotency_key_reused", title="Idempotency-Key reused",
                    detail="This Idempotency-Key was used with a different request.",
                )
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = handler()
        body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
        IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=response.status_code, response_body=body)
        return response
