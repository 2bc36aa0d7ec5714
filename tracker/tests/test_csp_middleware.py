"""Our CSP middleware answers the headers django-csp's would, building the text once."""

from __future__ import annotations

import pytest
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from tracker.security.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _headers(middleware_class, path: str = "/", prepare=None, status: int = 200) -> dict[str, str | None]:
    request = RequestFactory().get(path)
    middleware = middleware_class(lambda r: HttpResponse(status=status))
    middleware.process_request(request)
    response = HttpResponse(status=status)
    if prepare is not None:
        prepare(request, response)
    response = middleware.process_response(request, response)
    return {h: response.get(h) for h in HEADERS}


def _nonce(request, response):
    str(request.csp_nonce)  # a template asked for one


def _update(request, response):
    response._csp_update = {"img-src": ["https://example.com"]}


def _exempt(request, response):
    response._csp_exempt = True


@pytest.mark.parametrize("prepare", [None, _nonce, _update, _exempt])
def test_same_headers_as_django_csp(prepare):
    assert _headers(CSPMiddleware, prepare=prepare) == _headers(DjangoCSPMiddleware, prepare=prepare)


def test_settings_changes_are_seen(settings):
    before = _headers(CSPMiddleware)["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    after = _headers(CSPMiddleware)
    assert after == _headers(DjangoCSPMiddleware)
    assert after["Content-Security-Policy"] == "default-src 'none'" != before
    assert "img-src 'self'" in after["Content-Security-Policy-Report-Only"]
    settings.DEBUG = True
    assert _headers(CSPMiddleware, status=404) == _headers(DjangoCSPMiddleware, status=404)
