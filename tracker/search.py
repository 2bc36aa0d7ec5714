"""The search box: one query finds work orders, items, lots, serials, tags and locations by code or name.

``tracker`` never imports the apps above it, so each app registers a ``SearchSource`` here from its
``AppConfig.ready()`` (tracker registers its own, locations). A source is one scoped query: it starts
from ``Model.objects.restrict(user, "view")``, so it answers only from the user's sites (items are global
master data and follow ``ItemQuerySet.restrict``). A user without a source's permission skips it, and
the page costs one query per source the user may use, whatever the number of hits.

Matching is case-insensitive, on a prefix or anywhere in the key; prefix matches come first. A hit
remembers the site it belongs to: the pages behind work orders, tags and locations show the current site
only, so a hit at another of the user's sites is opened by switching to that site first (the page offers
a button), never by a link that would answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from tracker.models import Location

#: shorter queries would match most of a plant (and cannot use an index anyway)
MIN_LENGTH = 2
MAX_LENGTH = 100
#: hits shown per kind; one more is read to say that there are more
LIMIT = 10


@dataclass(frozen=True)
class SearchHit:
    key: str  # what a person types for this object: an exact match of it may open the object directly
    title: str
    url: str
    detail: str = ""
    site_code: str = ""  # the site whose pages show it; "" when its page does not depend on the site
    site_name: str = ""


@dataclass(frozen=True)
class SearchSource:
    kind: str
    label: str  # the group's heading ("Work orders")
    #: the model permissions a user needs for this source to be asked: to see the rows and to open their page
    permissions: tuple[str, ...]
    find: Callable[..., list[SearchHit]]  # (user=, query=, limit=) -> at most limit hits, best first
    order: int = 100


@dataclass
class SearchGroup:
    kind: str
    label: str
    hits: list[SearchHit] = field(default_factory=list)
    more: bool = False  # there were more hits than shown


SOURCES: list[SearchSource] = []


def register_search(source: SearchSource) -> None:
    if all(s.kind != source.kind for s in SOURCES):
        SOURCES.append(source)
        SOURCES.sort(key=lambda s: s.order)


def normalise(query: str | None) -> str:
    return " ".join((query or "").split())[:MAX_LENGTH]


def search(*, user: Any, query: str, limit: int = LIMIT) -> list[SearchGroup]:
    """The kinds that have hits for ``query``, in registry order; each asks one scoped query."""
    query = normalise(query)
    if len(query) < MIN_LENGTH:
        return []
    groups = []
    for source in SOURCES:
        if not user.has_perms(source.permissions):
            continue
        hits = source.find(user=user, query=query, limit=limit + 1)
        if hits:
            groups.append(SearchGroup(source.kind, source.label, hits[:limit], more=len(hits) > limit))
    return groups


def exact_hit(groups: list[SearchGroup], query: str) -> SearchHit | None:
    """The one hit whose key is exactly the query (ignoring case), if there is exactly one."""
    wanted = normalise(query).casefold()
    exact = [hit for group in groups for hit in group.hits if hit.key.casefold() == wanted]
    return exact[0] if len(exact) == 1 else None


def matching(qs: QuerySet[Any], query: str, *fields: str, also: Q | None = None) -> QuerySet[Any]:
    """``qs`` filtered to rows where any of ``fields`` contains ``query`` (or ``also`` holds), prefix matches
    of the first field first (then by that field), for a source's one query."""
    contains = also if also is not None else Q()
    for name in fields:
        contains |= Q(**{f"{name}__icontains": query})
    prefix = Case(
        When(**{f"{fields[0]}__istartswith": query}, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return qs.filter(contains).annotate(search_rank=prefix).order_by("search_rank", fields[0])


def _locations(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    from django.urls import reverse

    rows = matching(
        Location.objects.restrict(user, "view").filter(is_virtual=False), query, "code", "name"
    ).values_list("code", "name", "kind", "site__code", "site__name")[:limit]
    url = reverse("inventory:stock")  # the stock tree below a location; tracker has no location page
    return [
        SearchHit(
            key=code,
            title=code,
            detail=f"{name} · {kind}",
            url=f"{url}?within={code}",
            site_code=site_code,
            site_name=site_name,
        )
        for code, name, kind, site_code, site_name in rows
    ]


register_search(
    SearchSource("locations", "Locations", ("tracker.view_location", "inventory.view_stocklevel"), _locations, order=60)
)
