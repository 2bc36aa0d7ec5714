"""Every route the project serves: the URL resolver (recursively, DRF router routes
with their format-suffix twins and extra actions, pages, the admin) and the
websocket router behind ``config.asgi.application``. A route is keyed by its URL
name (namespaced), or its path when it has none."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver

#: Methods every view answers the same way as another (HEAD as GET) or with metadata only.
IMPLIED = ("head", "options", "trace")


@dataclass
class Route:
    name: str
    paths: set[str]
    methods: frozenset[str] | None  # None: the view takes any method (undeclared)
    view: str
    view_class: type | None = None  # DRF or Django class-based view
    actions: dict[str, str] = field(default_factory=dict)  # viewset routes: METHOD -> action


def _view_methods(callback) -> tuple[frozenset[str] | None, str]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: method -> action (DRF adds "head" once a GET was served)
        return frozenset(m.upper() for m in actions if m not in IMPLIED), f"{cls.__module__}.{cls.__name__}"
    if cls is not None:
        methods = {m.upper() for m in cls.http_method_names if m not in IMPLIED and hasattr(cls, m)}
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
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        route = routes.setdefault(name, Route(name, set(), methods, view, view_class))
        route.paths.add(path)
        route.actions.update(
            {m.upper(): a for m, a in (getattr(callback, "actions", None) or {}).items() if m not in IMPLIED}
        )
        if route.methods is not None and methods is not None:
            route.methods = route.methods | methods
    return routes


def websocket_router():
    """The URLRouter inside the ASGI app's websocket stack, and the layers around it."""
    from config.asgi import application

    layer, layers = application.application_mapping["websocket"], []
    while not hasattr(layer, "routes"):
        layers.append(type(layer).__name__)
        layer = getattr(layer, "application", None) or layer.inner
    return layer, layers


def websocket_routes() -> dict[str, Route]:
    router, _ = websocket_router()
    routes = {}
    for name, _, path, callback in _walk(router.routes):
        consumer = callback.consumer_class
        routes[name] = Route(name, {path}, frozenset({"CONNECT"}), f"{consumer.__module__}.{consumer.__name__}")
    return routes


def all_routes() -> dict[str, Route]:
    routes = http_routes()
    routes.update(websocket_routes())
    return routes
