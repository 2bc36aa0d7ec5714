"""The current request's id and client address, for logs, audit and tasks; and what
every view asks of a request: who is acting, and at which site."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tracker.models import Site

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)

_Actor = TypeVar("_Actor")


def actor_or_none(actor: _Actor) -> _Actor | None:
    """The user to record as the one who acted (``created_by``, ``operator``...):
    ``actor`` when it is authenticated, else None, so an anonymous caller or a
    task with nobody behind it writes no user."""
    return actor if getattr(actor, "is_authenticated", False) else None


def acting_user(request: Any) -> Any | None:
    """The request's authenticated user (or device principal), else None (anonymous, or no request)."""
    return actor_or_none(getattr(request, "user", None))


def require_site(request: Any) -> Site:
    """The site a page works on (``tracker.selectors.current_site``); 404 for a user granted none."""
    # Imported here: logging loads this module before the app registry is ready.
    from django.http import Http404

    from tracker.selectors import current_site

    site = current_site(request)
    if site is None:
        raise Http404("You have no site. Ask an administrator to grant you one.")
    return site
