"""django-csp's middleware, with the policy text built once rather than twice per response.

``csp.middleware.CSPMiddleware`` rebuilds both headers from the settings on every
response (``dataclasses.asdict`` and ``build_policy`` for the policy and again for
the report-only one): a twelfth of the CPU of an authenticated API no-op. Here a
response that carries no policy of its own (no ``@csp_update``/``@csp_replace``/
``@csp`` decorator, no nonce asked for) gets the text built once per settings
objects (a settings override builds it anew); anything else goes through
django-csp unchanged. Which responses get the headers is django-csp's rule,
repeated here: not over a header already set, not on an exempt response or an
excluded path, not on a 404/500 when DEBUG.
"""

from __future__ import annotations

import http.client
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings

_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_DEBUG_CODES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)

#: (the two settings objects the texts were built from, the policy, the report-only policy)
_built: tuple[Any, Any, str, str] | None = None


def _policies() -> tuple[str, str]:
    global _built
    enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
    built = _built
    if built is None or built[0] is not enforced or built[1] is not report_only:
        built = _built = (enforced, report_only, build_policy(), build_policy(report_only=True))
    return built[2], built[3]


def _set(request: Any, response: Any, header: str, value: str, exempt_flag: str, setting: str) -> None:
    if not value or header in response or getattr(response, exempt_flag, False) is not False:
        return
    prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
    if not request.path_info.startswith(tuple(prefixes)):
        response[header] = value


class CSPMiddleware(BaseCSPMiddleware):
    def process_response(self, request: Any, response: Any) -> Any:
        nonce = getattr(request, "_csp_nonce", None)
        if nonce is not None or any(getattr(response, name, None) is not None for name in _PER_RESPONSE):
            return super().process_response(request, response)
        if response.status_code in _DEBUG_CODES and settings.DEBUG:
            return response
        policy, report_only = _policies()
        _set(request, response, HEADER, policy, "_csp_exempt", "CONTENT_SECURITY_POLICY")
        _set(
            request, response, HEADER_REPORT_ONLY, report_only, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"
        )
        # As django-csp: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = self._lazy_post_response_nonce()
        return response

    def _lazy_post_response_nonce(self) -> Any:
        from csp.middleware import CheckableLazyObject

        return CheckableLazyObject(self._csp_nonce_post_response)
