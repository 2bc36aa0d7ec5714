"""Domain errors: a broken business rule, turned by the API into a 4xx problem."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every business-rule error. ``code`` is stable and machine-readable."""

    code = "domain_error"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.field = field
        self.extra = extra


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 400


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PermissionDenied(DomainError):
    """Used for writes naming an object the user may not use: looks like not found."""

    code = "not_found"
    status = 404
