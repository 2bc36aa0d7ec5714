"""RFC 9457 problem details for every API error.

``type`` is a stable URN naming the rule broken (``urn:shopfloor:problem:
insufficient_stock``); validation problems carry the field errors.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tracker.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DRF_CODES = {
    exceptions.ValidationError: "validation_failed",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def problem_response(
    *, status_code: int, code: str, title: str, detail: str, errors=None, headers=None, **extra
) -> Response:
    body = {
        "type": f"urn:shopfloor:problem:{code}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            msg = _first_message(value)
            return msg if field == "non_field_errors" else f"{field}: {msg}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        errors: dict[str, Any] | None = {exc.field: [exc.detail]} if exc.field else None
        # An error about several inputs (e.g. every bad line of a document) names each.
        errors = getattr(exc, "field_errors", None) or errors
        return problem_response(
            status_code=exc.status,
            code=exc.code,
            title=exc.code.replace("_", " ").capitalize(),
            detail=exc.detail,
            errors=errors,
            **exc.extra,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = f"The request is invalid: {_first_message(exc.detail)}"
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    else:
        detail, errors = str(getattr(exc, "detail", exc)), None
    problem = problem_response(
        status_code=response.status_code,
        code=code,
        title=code.replace("_", " ").capitalize(),
        detail=detail,
        errors=errors,
    )
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem
