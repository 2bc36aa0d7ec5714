from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tracker.navigation import is_api_only, menus_for
from tracker.registry import NAV
from tracker.selectors import current_site, visible_sites


def shopfloor(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_site": current_site(request),
        "user_sites": visible_sites(request),  # the rows current_site picked from
        # Lazy: no template of ours reads it, so no page pays a ``has_perm`` per entry for it.
        "nav_entries": SimpleLazyObject(lambda: [e for e in NAV if user.has_perm(e.permission)]),
        # Lazy: a partial rendered for htmx never shows the menus, so it does not pay for them.
        "nav_menus": SimpleLazyObject(lambda: menus_for(user, request.path)),
        "api_only": SimpleLazyObject(lambda: is_api_only(user)),
        "websocket_port": settings.WEBSOCKET_PUBLIC_PORT,
    }
