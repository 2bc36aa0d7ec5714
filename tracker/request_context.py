"""The current request's id and client address, for logs, audit and tasks; who acted."""

from __future__ import annotations

import contextvars
from typing import TypeVar

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)

_Actor = TypeVar("_Actor")


def acting_user(actor: _Actor) -> _Actor | None:
    """The user to record as the one who acted (``created_by``, ``operator``...):
    ``actor`` when it is authenticated, else None, so an anonymous caller or a
    task with nobody behind it writes no user. Views pass ``request.user``."""
    return actor if getattr(actor, "is_authenticated", False) else None
