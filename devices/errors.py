"""Domain errors of the devices app (rendered as problem+json by the API)."""

from __future__ import annotations

from tracker.errors import Conflict, DomainError, ValidationFailed


class EmptyUpload(ValidationFailed):
    code = "empty_upload"


class UploadTooLarge(DomainError):
    code = "upload_too_large"
    status = 413


class NoUploadFormat(Conflict):
    code = "no_upload_format"


class TagAlreadyAssigned(Conflict):
    code = "tag_already_assigned"
