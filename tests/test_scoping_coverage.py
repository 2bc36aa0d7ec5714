"""Every route, page and websocket is either proven to keep to the user's sites or
allowlisted here with the reason it needs no site scoping.

The routes come from the URL resolver (every urlpattern, recursively: DRF router
routes with their format-suffix twins and extra actions, page URLs, the admin)
and from the websocket router behind ``config.asgi.application``. A route is a
URL name and one method; it is covered when a ``ScopedEndpointMatrix`` subclass
or a test marked ``@covers(...)`` (tests/scoping.py) names it.

To count the scoping cases: ``pytest -m scoping --collect-only -q``.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.scoping import ScopedEndpointMatrix

BASE = Path(__file__).resolve().parents[1]

#: pyproject's testpaths; tests/browser drives Chromium and holds no scoping case.
TEST_ROOTS = ("tests", "tracker", "inventory", "wip", "devices")
NOT_SCANNED = (Path("tests/browser"),)

#: Routes that need no site scoping, each with the reason (reviewed: keep it short
#: and true). A key is a URL name (every method) or "<url name> <METHOD>".
ALLOWED: dict[str, str] = {
    "login": "the public login form (throttled and locked out by axes)",
    "logout": "ends the caller's own session",
    "security:otp_setup": "the caller's own TOTP device; no site data",
    "security:otp_verify": "confirms the caller's own session with a TOTP code; no site data",
    "healthz": "dependency status only (database, cache, broker, workers); no rows",
    "metrics": "process counters without site labels; served only to loopback without a proxy header, "
               "staff, or 'Bearer $METRICS_TOKEN', anyone else gets 404 (tracker/observability/views.py)",
    "api-root": "DRF router index: links to the endpoints, no rows",
    "api-ping": "authenticated no-op; reads nothing but the caller's key",
    "api-schema": "the OpenAPI document: endpoint shapes, no rows",
    "api-docs": "Swagger UI over the schema: no rows",
    "inventory-item-list": "items are global master data (ItemQuerySet.restrict: the permission and some site); "
                           "no site, location or lot in an item",
    "inventory-item-detail": "items are global master data; no site, location or lot in an item",
    "inventory-item-import-csv": "items are global master data; no site, location or lot in an item",
    "inventory:labels_items": "item labels: global master data (restricted like every item read)",
    "inventory:scan": "parses a scanned string; the GTIN's SKU comes from the restricted item master",
    "wip:labels_totes": "prints the container codes typed in; looks nothing up",
    "inventory:analytics": "redirects to the first report (whose page is checked); shows nothing",
    "wip:analytics": "redirects to the first report (whose page is checked); shows nothing",
    "reader-upload-list POST": "devices upload with their own device key: the key fixes the device and its site, "
                               "the body names no site (UploadPermission refuses people and partner keys)",
    "device-token-upload POST": "as reader-upload-list POST, with the device key in the URL",
}

#: Whole namespaces, with the test that checks them instead.
ALLOWED_NAMESPACES: dict[str, str] = {
    "admin": "the Django admin: every model holding site data is superuser-only "
             "(tracker/tests/test_admin_scoping.py checks each registered model)",
}


@dataclass
class Route:
    name: str
    paths: set[str]
    methods: frozenset[str] | None  # None: the view takes any method (undeclared)
    view: str


def _view_methods(callback) -> tuple[frozenset[str] | None, str]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: method -> action
        return frozenset(m.upper() for m in actions), f"{cls.__module__}.{cls.__name__}"
    if cls is not None:
        methods = {m.upper() for m in cls.http_method_names if m not in ("head", "options", "trace") and hasattr(cls, m)}
        return frozenset(methods), f"{cls.__module__}.{cls.__name__}"
    return _declared_methods(callback), f"{callback.__module__}.{callback.__name__}"


def _declared_methods(func) -> frozenset[str] | None:
    """The methods a function view allows through ``require_http_methods`` (and
    ``require_GET``/``require_POST``/``require_safe``), found in the decorator's
    closure; None when no decorator in the chain restricts them."""
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = func.__closure__[code.co_freevars.index("request_method_list")]
            return frozenset(m for m in cell.cell_contents if m != "HEAD")
        func = getattr(func, "__wrapped__", None)
    return None


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            path = prefix + str(pattern.pattern)
            name = pattern.name or path
            yield (f"{namespace}:{name}" if namespace else name), namespace, path, pattern.callback


def http_routes() -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for name, _, path, callback in _walk(get_resolver().url_patterns):
        methods, view = _view_methods(callback)
        route = routes.setdefault(name, Route(name, set(), methods, view))
        route.paths.add(path)
        if route.methods is not None and methods is not None:
            route.methods = route.methods | methods
    return routes


def _websocket_router():
    """The URLRouter inside the ASGI app's websocket stack, and the layers around it."""
    from config.asgi import application

    layer, layers = application.application_mapping["websocket"], []
    while not hasattr(layer, "routes"):
        layers.append(type(layer).__name__)
        layer = getattr(layer, "application", None) or layer.inner
    return layer, layers


def websocket_routes() -> dict[str, Route]:
    router, _ = _websocket_router()
    routes = {}
    for name, _, path, callback in _walk(router.routes):
        consumer = callback.consumer_class
        routes[name] = Route(name, {path}, frozenset({"CONNECT"}), f"{consumer.__module__}.{consumer.__name__}")
    return routes


def all_routes() -> dict[str, Route]:
    routes = http_routes()
    routes.update(websocket_routes())
    return routes


def _test_modules() -> list[str]:
    names = []
    for root in TEST_ROOTS:
        for path in sorted((BASE / root).rglob("test_*.py")):
            relative = path.relative_to(BASE)
            if any(relative.is_relative_to(skip) for skip in NOT_SCANNED):
                continue
            names.append(".".join(relative.with_suffix("").parts))
    return names


def collect_coverage() -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    """(route, method) -> the tests that check it; and declarations pytest would never run."""
    covered: dict[tuple[str, str], list[str]] = defaultdict(list)
    stray: list[str] = []

    def add(pairs, where: str) -> None:
        for pair in pairs:
            covered[pair].append(where)

    for module_name in _test_modules():
        module = importlib.import_module(module_name)
        for attr, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module_name:
                continue
            where = f"{module_name}::{attr}"
            is_class = isinstance(obj, type)
            if is_class and issubclass(obj, ScopedEndpointMatrix) and obj is not ScopedEndpointMatrix:
                if attr.startswith("Test"):
                    add(obj.covered_routes(), where)
                else:
                    stray.append(where)
            if hasattr(obj, "scoping_covers"):
                if attr.startswith("Test" if is_class else "test_"):
                    add(obj.scoping_covers, where)
                else:
                    stray.append(where)
            if is_class and attr.startswith("Test"):
                for method_name, method in vars(obj).items():
                    if hasattr(method, "scoping_covers") and method_name.startswith("test_"):
                        add(method.scoping_covers, f"{where}::{method_name}")
    return covered, stray


def _allowed(name: str, method: str) -> bool:
    namespace = name.split(":", 1)[0] if ":" in name else None
    return name in ALLOWED or f"{name} {method}" in ALLOWED or namespace in ALLOWED_NAMESPACES


@pytest.fixture(scope="module")
def coverage():
    return collect_coverage()


def test_every_route_is_scoped_or_allowlisted(coverage):
    covered, _ = coverage
    missing = []
    for name, route in sorted(all_routes().items()):
        for method in sorted(route.methods or ()):
            if (name, method) not in covered and not _allowed(name, method):
                missing.append(f"  {name} {method}  ({sorted(route.paths)[0]} -> {route.view})")
    assert not missing, (
        "Routes without a scoping test (ScopedEndpointMatrix or @covers in tests/scoping.py) "
        "and not in ALLOWED with a reason:\n" + "\n".join(missing)
    )


def test_every_page_declares_its_methods():
    """A function view without require_safe/require_POST/require_http_methods takes any
    method, so nobody can say which of its methods writes: declare them."""
    undeclared = [
        f"  {name} -> {route.view}" for name, route in sorted(http_routes().items())
        if route.methods is None and not all(_allowed(name, m) for m in ("GET", "POST"))
    ]
    assert not undeclared, "Views that accept any method:\n" + "\n".join(undeclared)


def test_declarations_name_real_routes(coverage):
    covered, stray = coverage
    routes = all_routes()
    unknown = sorted(
        f"  {name} {method}  (declared by {', '.join(where)})" for (name, method), where in covered.items()
        if name not in routes or (routes[name].methods is not None and method not in routes[name].methods)
    )
    assert not unknown, "Coverage declared for routes or methods that do not exist:\n" + "\n".join(unknown)
    assert not stray, f"Coverage declared where pytest never collects a test: {stray}"


def test_allowlist_is_current_and_not_shadowing_tests(coverage):
    covered, _ = coverage
    routes = all_routes()
    stale, shadowed = [], []
    for key in ALLOWED:
        name, _, method = key.partition(" ")
        if name not in routes or (method and method not in (routes[name].methods or {method})):
            stale.append(key)
        elif any((name, m) in covered for m in ([method] if method else routes[name].methods or ())):
            shadowed.append(key)
    assert not stale, f"ALLOWED names routes that no longer exist: {stale}"
    assert not shadowed, f"ALLOWED entries that a scoping test covers (drop them from ALLOWED): {shadowed}"


def test_websockets_check_origin_and_session():
    _, layers = _websocket_router()
    assert "OriginValidator" in layers, layers
    assert "AuthMiddleware" in layers, layers
    assert websocket_routes(), "no websocket routes found behind config.asgi.application"
