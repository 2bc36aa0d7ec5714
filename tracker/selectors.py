"""Reads of the core, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from tracker.models import Alert, Location, Site

SESSION_SITE_KEY = "shopfloor_site"
#: Where ``current_site`` memoises its answer on the request.
_REQUEST_SITE_CACHE = "_shopfloor_site"
#: Where ``visible_sites`` memoises the user's sites on the request.
_REQUEST_SITES_CACHE = "_shopfloor_sites"


def sites_for_user(*, user: Any) -> QuerySet[Site]:
    return Site.objects.restrict(user, "view").order_by("code")


def site_get(*, user: Any, code: str) -> Site | None:
    return sites_for_user(user=user).filter(code=code).first()


def visible_sites(request: HttpRequest) -> list[Site]:
    """The sites the request's user may view, by code (the header's site switch): read once per
    request, and ``current_site`` picks from the same rows instead of a query of its own."""
    cached: list[Site] | None = getattr(request, _REQUEST_SITES_CACHE, None)
    if cached is None:
        cached = list(sites_for_user(user=request.user)) if request.user.is_authenticated else []
        setattr(request, _REQUEST_SITES_CACHE, cached)
    return cached


def current_site(request: HttpRequest) -> Site | None:
    """The site the user chose (session), else their default, else their first."""
    user = request.user
    if not user.is_authenticated:
        return None
    if hasattr(request, _REQUEST_SITE_CACHE):
        cached: Site | None = getattr(request, _REQUEST_SITE_CACHE)
        return cached
    sites = visible_sites(request)
    code = request.session.get(SESSION_SITE_KEY)
    site = next((s for s in sites if s.code == code), None) if code else None
    if site is None:
        profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
        if profile is not None and profile.default_site_id:
            site = next((s for s in sites if s.pk == profile.default_site_id), None)
    if site is None:
        site = sites[0] if sites else None
    setattr(request, _REQUEST_SITE_CACHE, site)
    return site


def alerts_open(*, user: Any, site: Site) -> QuerySet[Alert]:
    return Alert.objects.restrict(user, "view").open().filter(site=site).select_related("acknowledged_by")


def alert_counts(*, user: Any, site: Site) -> dict[str, int]:
    return alerts_open(user=user, site=site).aggregate(
        total=Count("id"),
        critical=Count("id", filter=Q(severity="critical")),
        warning=Count("id", filter=Q(severity="warning")),
        unacknowledged=Count("id", filter=Q(acknowledged_at__isnull=True)),
    )


def location_tree(*, user: Any, site: Site) -> QuerySet[Location]:
    return Location.objects.restrict(user, "view").filter(site=site, is_virtual=False).order_by("path")


def location_path(code: str) -> str | None:
    """The materialised path of the location with this code (codes are unique), or None.

    What a ``within=<code>`` filter starts from. Plain SQL: on the levels list, the hottest
    read partners poll, building this one-row ORM query cost five times running it. Not
    scoped, as the filters using it never were: it only bounds a queryset that is."""
    if "\x00" in code:  # no location has one (and PostgreSQL refuses it in a query)
        return None
    quote = connection.ops.quote_name
    path, table, key = (
        quote(_column(Location, "path")),
        quote(Location._meta.db_table),
        quote(_column(Location, "code")),
    )
    sql = f"SELECT {path} FROM {table} WHERE {key} = %s"  # noqa: S608 - names from the model's metadata
    with connection.cursor() as cursor:
        cursor.execute(sql, [code])
        row = cursor.fetchone()
    return row[0] if row is not None else None


def _column(model: type[Any], name: str) -> str:
    column = model._meta.get_field(name).column
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column
