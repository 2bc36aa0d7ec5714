"""Authentication backend that refuses logins while a client is locked out."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, skipped when there is no request.

    Every web login (pages, admin, DRF) passes the request, so each is
    throttled. ``authenticate()`` without a request only happens in the shell,
    management commands and ``Client.login()`` in tests; there is no client to
    lock out there, and axes would otherwise raise instead of answering.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
