"""Site scoping: every queryset served to a user goes through ``restrict()``.

A model declares ``site_path``: the lookup from it to ``Site`` (``"site"``,
``"location__site"``, ``"pk"`` for Site itself). ``restrict(user, action)``
returns

* everything for an active superuser,
* nothing for anonymous or inactive users, or users without the model
  permission ``<app>.<action>_<model>`` (an unknown action denies too),
* otherwise the rows whose site the user was granted (guardian object
  permission ``tracker.view_site``, directly or through a group), written as
  ``<site_path>__in=(ids…)`` so joins never duplicate rows. The ids are read
  once per user object (one query per request) and then reused: building the
  permission subquery into every scoped query cost more CPU than the query.

Permission code fails closed: any error while deciding means no rows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

ACTIONS = frozenset({"view", "add", "change", "delete"})
SITE_ACCESS_CODENAME = "view_site"


#: Where ``granted_site_ids`` memoises a user's sites on the user object, like Django's own
#: ``_perm_cache``: a request (or a websocket connect, which reloads the user) sees one
#: consistent set, and the scoped queries carry literal ids instead of a permission subquery.
_SITE_CACHE = "_shopfloor_site_ids"


def granted_site_ids(user: User | AnonymousUser) -> tuple[int, ...]:
    """Ids of the sites ``user`` holds (direct or via groups), sorted; cached on ``user``.

    An API key's site list narrows them further. One query the first time in a
    request, none after; ``forget_site_ids`` drops the cache after a grant changes.
    """
    from django.contrib.auth.models import AnonymousUser

    from tracker.models import Site, SiteGroupObjectPermission, SiteUserObjectPermission

    if not getattr(user, "is_authenticated", False) or not user.is_active or isinstance(user, AnonymousUser):
        return ()
    cached: tuple[int, ...] | None = getattr(user, _SITE_CACHE, None)
    if cached is not None:
        return cached
    key_sites = api_key_site_ids(user)
    if user.is_superuser:
        sites = Site.objects.all()
    else:
        direct = SiteUserObjectPermission.objects.filter(user=user, permission__codename=SITE_ACCESS_CODENAME).values(
            "content_object_id"
        )
        via_group = SiteGroupObjectPermission.objects.filter(
            group__user=user, permission__codename=SITE_ACCESS_CODENAME
        ).values("content_object_id")
        sites = Site.objects.filter(Q(pk__in=direct) | Q(pk__in=via_group))
    if key_sites is not None:
        sites = sites.filter(pk__in=key_sites)
    ids = tuple(sites.order_by("pk").values_list("pk", flat=True))
    setattr(user, _SITE_CACHE, ids)
    return ids


def forget_site_ids(user: Any) -> None:
    """Drop the cached site ids of this user object (after its grants changed)."""
    if user is not None and _SITE_CACHE in getattr(user, "__dict__", {}):
        delattr(user, _SITE_CACHE)


def api_key_site_ids(user: Any) -> frozenset[int] | None:
    """The sites the request's API key is limited to (None: no key, or no limit).

    Set on the user by ``ApiKeyAuthentication``: a partner key sees only those
    of its user's sites, even a superuser's key.
    """
    return getattr(user, "api_key_site_ids", None)


def has_model_permission(user: Any, model: type[models.Model], action: str) -> bool:
    if action not in ACTIONS:
        return False
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    opts = model._meta
    allowed: bool = user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
    return allowed


def site_path_of(model: type[models.Model]) -> str:
    """The model's ``site_path`` lookup; a scoped model without one is a programming error."""
    site_path = getattr(model, "site_path", None)
    if not isinstance(site_path, str):
        raise ImproperlyConfigured(f"{model.__name__} has a RestrictedQuerySet but no site_path")
    return site_path


class RestrictedQuerySet(models.QuerySet):
    """QuerySet with ``restrict(user, action)``; the model sets ``site_path``.

    A model that reaches its sites another way overrides ``site_q()`` only: the
    checks before it (action, user, permission, sites) and failing closed stay here.
    """

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        """The rows a user holding ``site_ids`` may see: by default ``<site_path>__in``."""
        site_path = site_path_of(self.model)
        lookup = "pk__in" if site_path == "pk" else f"{site_path}__in"
        return Q(**{lookup: site_ids})

    def restrict(self, user: Any, action: str = "view") -> Self:
        """Decided now, built when first used: the condition joins the query through Django's
        own deferred filter (its related managers' mechanism), applied the first time anything
        reads the queryset's query (chaining, slicing, counting, evaluating, subqueries). A
        restricted queryset nobody reads (a view answering from plain SQL or with a 304) costs
        no query build; one that is read is exactly ``self.filter(self.site_q(sites))``."""
        sites = scope_site_ids(user, self.model, action)
        if sites is None:
            return self
        if not sites:
            return self.none()
        try:
            condition = self.site_q(sites)
            # filter()'s own refusals, so that restricting what cannot be filtered fails closed below.
            self._not_support_combined_queries("filter")  # type: ignore[attr-defined]  # Django's, not in the stubs
            if self.query.is_sliced:
                raise TypeError("Cannot filter a query once a slice has been taken.")
            # What ``filter()`` does with ``_defer_next_filter`` set (Django's, not in the stubs),
            # with one clone of the query instead of two: restricting is on every API request.
            restricted: Self = self._chain()  # type: ignore[attr-defined]  # Django's, not in the stubs
            restricted._deferred_filter = (False, (condition,), {})  # type: ignore[attr-defined]
            return restricted
        except Exception:  # fail closed, and say so in the log
            logger.warning("restrict() failed for %s (%s); denying", self.model.__name__, action, exc_info=True)
            return self.none()


def scope_site_ids(user: Any, model: type[models.Model], action: str = "view") -> tuple[int, ...] | None:
    """The decision ``restrict()`` makes, without building a queryset: ``None`` for every row
    (an active superuser without a key's site list), else the site ids whose rows ``user`` may
    ``action`` (empty: none). Hand-written scoped SQL (``inventory.selectors.keys``) uses it
    so it cannot drift from ``restrict()``. Fails closed: any error means no sites."""
    try:
        if action not in ACTIONS:
            return ()
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return ()
        if user.is_superuser and api_key_site_ids(user) is None:
            return None
        if not has_model_permission(user, model, action):
            return ()
        return granted_site_ids(user)
    except Exception:  # fail closed, and say so in the log
        logger.warning("restrict() failed for %s (%s); denying", model.__name__, action, exc_info=True)
        return ()


def user_can_access_site(user: Any, site: Any) -> bool:
    """Whether ``user`` may view ``site`` (role and grant; fails closed)."""
    from tracker.models import Site

    try:
        return Site.objects.restrict(user, "view").filter(pk=site.pk).exists()
    except Exception:
        logger.exception("site access check failed; denying")
        return False
