"""Request id: taken from X-Request-ID when sane, else generated; echoed back.

The middleware also keeps the current request in a contextvar so signal
handlers (the audit trail) can name the user who made a change through the
admin or the API without every caller passing it along.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from tracker.request_context import acting_user, client_ip_var, request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

current_request_var: contextvars.ContextVar = contextvars.ContextVar("current_request", default=None)


def current_user():
    """The authenticated user of the request being served, else None."""
    return acting_user(current_request_var.get())


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(request.META.get("REMOTE_ADDR"))
        request_token = current_request_var.set(request)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
            current_request_var.reset(request_token)
        response["X-Request-ID"] = request_id
        return response
