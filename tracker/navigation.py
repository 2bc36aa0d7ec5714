"""The page menus: a handful of groups, only what the user's role may open, the current page marked.

The apps register their pages in ``tracker.registry.NAV`` (tracker never imports them); this module sorts
those entries, and a few task pages that live in an app's sub-navigation, into menus by URL name. An
entry a user has no permission for is left out, and so is a menu left empty, so each role sees its own
short set (an operator: Floor and Production; a clerk: Inventory first). The current page is the entry
whose address is the longest prefix of the request's path, so a work order's page marks "Work orders".

The partner role works through the API only: a login that holds nothing but that role is ``api_only``
and ``base.html`` shows it a page saying so instead of any other page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, reverse

from tracker.registry import NAV, NavEntry

#: menus in the order shown; the first URL-name prefix that matches an entry places it
MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Floor", ("tracker:home", "devices:plant", "tracker:alerts", "devices:finder")),
    (
        "Production",
        (
            "wip:board",
            "wip:work_orders",
            "wip:stations",
            "wip:bottlenecks",
            "wip:oee",
            "wip:quality",
            "devices:excursions",
        ),
    ),
    (
        "Inventory",
        (
            "inventory:stock",
            "inventory:items",
            "inventory:receive",
            "inventory:transfer",
            "inventory:count",
            "inventory:replenishment",
            "inventory:expiring",
            "inventory:in_transit",
            "inventory:trace",
        ),
    ),
    ("Reports", ("wip:analytics", "inventory:analytics", "inventory:forecasts")),
    ("Devices", ("devices:",)),
)

#: pages that are not registered by their app but that a role's key task starts from
EXTRA: tuple[NavEntry, ...] = (
    NavEntry("Dashboard", "tracker:home", "tracker.view_site", order=0),
    NavEntry("Alerts", "tracker:alerts", "tracker.view_alert", order=10),
    NavEntry("By item", "inventory:items", "inventory.view_item", order=20),
    NavEntry("Receive", "inventory:receive", "inventory.add_stockmove", order=20),
    NavEntry("Transfer", "inventory:transfer", "inventory.add_stockmove", order=20),
    NavEntry("Count", "inventory:count", "inventory.add_cyclecount", order=20),
    NavEntry("Expiring lots", "inventory:expiring", "inventory.view_stocklevel", order=22),  # as the page needs
    NavEntry("In transit", "inventory:in_transit", "inventory.view_transferorder", order=22),
)

#: clearer names for registered entries inside their menu
LABELS = {"Reports": "Inventory reports", "Stock": "By location", "Replenish": "Replenishment"}

#: the menu a role starts from (first in the bar); others keep MENUS order
ROLE_FIRST_MENU = {"warehouse clerk": "Inventory", "quality inspector": "Production", "operator": "Production"}

API_ONLY_ROLE = "partner"


@dataclass
class Link:
    label: str
    url: str
    current: bool = False


@dataclass
class Menu:
    title: str
    links: list[Link] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return any(link.current for link in self.links)


def _menu_of(url_name: str) -> str:
    for title, names in MENUS:
        if any(url_name == n or (n.endswith(":") and url_name.startswith(n)) for n in names):
            return title
    return "More"


def _position(url_name: str) -> int:
    for _, names in MENUS:
        if url_name in names:
            return names.index(url_name)
    return 99


def is_api_only(user: Any) -> bool:
    """A login holding only the partner role (no other role, not staff): the API is all it may use."""
    if not getattr(user, "is_authenticated", False) or user.is_staff or user.is_superuser:
        return False
    return set(_group_names(user)) == {API_ONLY_ROLE}


def menus_for(user: Any, path: str) -> list[Menu]:
    """The menus ``user`` may use, each with the links they hold permission for, the current one marked."""
    placed = _placed_links(_granted(user), get_script_prefix(), len(NAV))
    # Fresh Link objects every call: marking the current one must not touch the cached rows.
    menus = {title: [(index, Link(label, url)) for index, label, url in rows] for title, rows in placed}
    # The longest address the path starts with; on a tie, the entry placed first.
    best = max(
        (
            (len(link.url), -index, link)
            for rows in menus.values()
            for index, link in rows
            if path == link.url or (link.url != "/" and path.startswith(link.url))
        ),
        key=lambda row: row[:2],
        default=None,
    )
    if best is not None:
        best[2].current = True
    order = [title for title, _ in MENUS] + ["More"]
    first = next((ROLE_FIRST_MENU[g] for g in _group_names(user) if g in ROLE_FIRST_MENU), None)
    if first in order:
        order.remove(first)
        order.insert(0, first)
    return [Menu(title, [link for _, link in menus[title]]) for title in order if title in menus]


#: ``_granted``'s answer for an active superuser: every permission.
_ALL = "*"


def _granted(user: Any) -> frozenset[str] | str:
    """What ``user.has_perm(perm)`` answers for a model permission, as one hashable value: ``_ALL``
    for an active superuser, else the user's model permissions (none when inactive). Our backends
    (ModelBackend; guardian, which grants nothing without an object; axes, which grants nothing)
    make ``has_perm(p)`` exactly ``p in get_all_permissions()`` then; one call instead of one per entry."""
    if not user.is_active:
        return frozenset()
    if user.is_superuser:
        return _ALL
    return frozenset(user.get_all_permissions())


@lru_cache(maxsize=128)
def _placed_links(
    granted: frozenset[str] | str, script_prefix: str, nav_size: int
) -> tuple[tuple[str, tuple[tuple[int, str, str], ...]], ...]:
    """(menu title, ((placed index, label, url), ...)) for a set of permissions, in each menu's order.

    The same for everyone holding the same permissions, so computed once per process for each
    (roles differ by their permissions): on every page this was a ``has_perm`` and a ``reverse``
    per entry. ``script_prefix`` is in the key because ``reverse`` uses it; ``nav_size`` because
    the apps' entries register at start-up (``NAV`` only grows)."""
    seen: set[str] = set()
    placed: dict[str, list[tuple[int, int, str, str]]] = {}
    for entry in [*EXTRA, *NAV]:
        if entry.url_name in seen or not (granted == _ALL or entry.permission in granted):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        seen.add(entry.url_name)
        label = LABELS.get(entry.label, entry.label)
        placed.setdefault(_menu_of(entry.url_name), []).append((_position(entry.url_name), entry.order, label, url))
    # Each link's index in the menus' order of first use, its own in theirs (``menus_for``'s tie-break).
    indexed: dict[str, list[tuple[int, int, int, str, str]]] = {}
    for title, rows in placed.items():
        indexed[title] = [(len(indexed) * 1000 + i, *row) for i, row in enumerate(rows)]
    return tuple(
        (
            title,
            tuple((index, label, url) for index, _, _, label, url in sorted(rows, key=lambda row: (row[1], row[2]))),
        )
        for title, rows in indexed.items()
    )


def _group_names(user: Any) -> list[str]:
    """The user's role names, read once per request (the user object lives for one request)."""
    if user.is_superuser:
        return []
    cached = getattr(user, "_shopfloor_role_names", None)
    if cached is None:
        cached = sorted(user.groups.values_list("name", flat=True))
        user._shopfloor_role_names = cached
    return cached
