"""Partner access: what an API key may do (scopes), where (sites) and how often.

A view names the scope a key needs in its ``access`` declaration
(tracker.api.access): a scope for reads, one for writes, and a ``Needs`` for
an action that differs. A write no partner system should make is declared
``closed_to_keys(reason)``. A view that declares nothing serves reads to any
key (still limited to the key's sites and the user's role) and refuses writes
to keys: a new write endpoint is closed to partners until it names its scope
(and a test fails until it does). Session users are not affected.

Keys are limited to their ``sites`` (none listed: all the user's sites) by
``restrict()`` itself (see ``tracker.scoping.granted_site_ids``), so lists,
detail lookups and scoped related fields all honour it.
"""

from __future__ import annotations

import logging

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tracker.api.access import ClosedToKeys, Scope, closed_to_keys, view_access
from tracker.api.key_gate import Verdict
from tracker.models import ApiKey, ApiKeyScope

logger = logging.getLogger(__name__)

SCOPES = tuple(ApiKeyScope.values)


__all__ = ["SCOPES", "ApiKeyRateThrottle", "ApiKeyScopePermission", "ClosedToKeys", "closed_to_keys", "required_scope"]


def presented_key(request) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def required_scope(view, request) -> Scope:
    """The scope this request needs from a key, or None when the view declares none."""
    return view_access(view).scope(getattr(view, "action", None), request.method)


class ApiKeyScopePermission(BasePermission):
    """403 (problem+json) when the key lacks the scope the view requires."""

    message = "This API key lacks the scope this endpoint requires."

    def has_permission(self, request, view) -> bool:
        key = presented_key(request)
        if key is None:
            return True
        try:
            scope = required_scope(view, request)
        except Exception:  # fail closed
            logger.exception("scope check failed; denying")
            return False
        if isinstance(scope, ClosedToKeys):
            self.message = f"This endpoint is not open to API keys: {scope.reason}"
            return False
        if scope is None:
            if request.method in SAFE_METHODS:
                return True
            self.message = "This endpoint is not open to API keys."
            return False
        if scope not in (key.scopes or ()):
            self.message = f"This API key lacks the {scope!r} scope."
            return False
        return True


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key, counted in the cache (``DEFAULT_THROTTLE_RATES["api_key"]``).

    Only key-authenticated requests are counted; a 429 carries Retry-After.
    """

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time (the base class binds the rates at import), so
        # a settings change applies without a restart of the class.
        # Rates are "N/period" strings; the stubs type the setting's values as numbers.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

    def get_cache_key(self, request, view) -> str | None:
        key = presented_key(request)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.prefix}

    def window_key(self, prefix: str) -> str:
        """Where ``tracker.api.key_gate`` keeps this key's window (a Redis list of request times)."""
        return f"throttle:{self.scope}:{prefix}:window"

    def allow_request(self, request, view) -> bool:
        # With Redis the key's authentication already applied the window in its one round
        # trip (tracker.api.key_gate); otherwise DRF's cache calls, as before.
        verdict: Verdict | None = getattr(request, "api_key_verdict", None)
        key = presented_key(request)
        if verdict is None or key is None or verdict.cache_key != self.window_key(key.prefix):
            self._verdict = None
            return super().allow_request(request, view)
        self._verdict = verdict
        return verdict.allowed

    def wait(self) -> float | None:
        verdict = getattr(self, "_verdict", None)
        if verdict is None:
            return super().wait()
        # DRF's formula on the script's window: time left for its oldest request, shared
        # among the requests still available.
        duration: float = getattr(self, "duration", 0) or 0  # set from the rate; absent from the stubs
        remaining = duration - (verdict.now - verdict.oldest) if verdict.oldest is not None else duration
        available = (getattr(self, "num_requests", 0) or 0) - verdict.count + 1
        if available <= 0:
            return None
        return remaining / available
