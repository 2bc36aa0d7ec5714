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
from pathlib import Path

import pytest

from tests.routes import all_routes, http_routes, websocket_router, websocket_routes
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
    "api-schema": "the OpenAPI document, public (drf-spectacular's SERVE_PERMISSIONS): endpoint shapes, no rows",
    "api-docs": "Swagger UI over the schema, public: no rows",
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
        f"  {name} -> {route.view}"
        for name, route in sorted(http_routes().items())
        if route.methods is None and not all(_allowed(name, m) for m in ("GET", "POST"))
    ]
    assert not undeclared, "Views that accept any method:\n" + "\n".join(undeclared)


def test_declarations_name_real_routes(coverage):
    covered, stray = coverage
    routes = all_routes()
    unknown = sorted(
        f"  {name} {method}  (declared by {', '.join(where)})"
        for (name, method), where in covered.items()
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
    _, layers = websocket_router()
    assert "OriginValidator" in layers, layers
    assert "AuthMiddleware" in layers, layers
    assert websocket_routes(), "no websocket routes found behind config.asgi.application"
