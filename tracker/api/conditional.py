"""ETag / If-None-Match on API lists and details: an unchanged poll answers 304 without its queries.

A view opts in with ``conditional = True`` (``ScopedViewSetMixin`` reads it for
``list`` and ``retrieve``). The ETag is a hash of everything the answer depends
on, read without touching the rows:

* the request: path, every query parameter, and the representation asked for
  (the Accept header);
* who asks: the user, the sites its grants and its key allow, its model
  permissions and the key's scopes, so another scope never shares an ETag;
* the data: the versions of exactly those sites and of the rows without a site
  (``tracker.versions``; a superuser's: every change), and the safety-net time
  bucket.

For a partner's key all of that is in the key's cached entry (the fingerprint of
who asks included, see ``scope_of``) and the versions are read in the
authentication's own Redis round trip (``tracker.api.key_gate``), so a 304 costs
no query and no round trip of its own; a session user's sites cost their one
query and the versions one round trip.
The ETag is set only on 200s: a 404 or a 403 never hands one out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.utils.http import parse_etags, quote_etag

from tracker import versions
from tracker.scoping import api_key_site_ids, granted_site_ids

logger = logging.getLogger(__name__)

ACTIONS = frozenset({"list", "retrieve"})


#: Where ``scope_of`` memoises its answer on the user object (pickled with a key's cached user,
#: so a partner's request reuses the one built with its cache entry).
_MEMO = "_shopfloor_etag_scope"


def scope_of(user: Any, key: Any) -> tuple[str, tuple[str, ...]]:
    """(who asks, as text; the version counters of what it may see) for ``user`` with ``key``.

    Sorting and printing every permission cost more than the rest of a 304, so the answer is
    memoised on the user object, stamped with what it was made of: the permission set
    Django's ``ModelBackend`` caches on the user (compared by identity: a permission change
    reloads it), the user's granted sites (``granted_site_ids``, forgotten when a grant
    changes), the key and its scopes and the user's superuser and active flags. For a
    partner's key the user comes from ``tracker.api.key_cache``, rebuilt whenever the auth
    epoch moves (a key, user, group, permission or grant changed), memo included."""
    scopes = tuple(sorted(getattr(key, "scopes", None) or ()))
    everything = user.is_superuser and api_key_site_ids(user) is None
    sites: tuple[int, ...] = () if everything else granted_site_ids(user)
    state = user.__dict__
    perm_cache = state.get("_perm_cache")
    stamp = (getattr(key, "pk", None), scopes, sites, bool(user.is_superuser), bool(user.is_active))
    memo = state.get(_MEMO)
    if memo is not None and memo[0] is perm_cache and perm_cache is not None and memo[1] == stamp:
        return memo[2], memo[3]
    if user.is_superuser:
        perms = ["*"]  # every permission (asking would read them all)
    else:
        perms = sorted(user.get_all_permissions()) if user.is_authenticated else []
    counters = (versions.ALL,) if everything else (versions.GLOBAL, *(versions.site_key(s) for s in sites))
    who = f"{user.pk}|{getattr(key, 'pk', '')}|{list(scopes)}|{sites}|{perms}"
    if user.is_authenticated:
        # Stamped with the permission set read just now (None: not cached, so never reused).
        state[_MEMO] = (state.get("_perm_cache"), stamp, who, counters)
    return who, counters


def wants_etag(view: Any, request: Any) -> bool:
    """Whether this request to ``view`` is answered with an ETag (read before ``initial()``)."""
    return (
        bool(getattr(view, "conditional", False))
        and getattr(view, "action", None) in ACTIONS
        and (request.method in ("GET", "HEAD"))
    )


def etag_for(request: Any) -> str | None:
    """The answer's ETag, or None when the versions cannot be read (no cache: answer in full).

    A partner's request usually brings the versions along: ``tracker.api.key_gate`` read them
    in the authentication's round trip (``request.data_versions``, for the counters it names);
    otherwise they are read here, one round trip."""
    who, counters = scope_of(request.user, getattr(request, "auth", None))
    read: tuple[tuple[str, ...], list[int]] | None = getattr(request, "data_versions", None)
    if read is not None and read[0] == counters:
        data = read[1]
    else:
        try:
            data = versions.current(list(counters))
        except Exception:
            logger.warning("data versions unavailable; answering without an ETag", exc_info=True)
            return None
    query = sorted(request.GET.lists())
    accept = request.headers.get("Accept", "")
    parts = [
        request.path,
        repr(query),
        accept,
        who,
        repr(data),
        str(int(time.time() // versions.SAFETY_SECONDS)),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return quote_etag(digest)


def matches(request: Any, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    wanted = parse_etags(header)
    # Weak comparison (RFC 9110 13.1.2), as for GET: W/"x" matches "x".
    return "*" in wanted or any(tag.removeprefix("W/") == etag for tag in wanted)
