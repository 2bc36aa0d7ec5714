from tracker.registry import NAV
from tracker.selectors import current_site, sites_for_user


def shopfloor(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_site": current_site(request),
        "user_sites": sites_for_user(user=user),
        "nav_entries": [e for e in NAV if user.has_perm(e.permission)],
    }
