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

For a partner's key all of that is in the key's cached entry, so a 304 costs no
query and one cache round trip; a session user's sites cost their one query.
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


def _scope(request: Any) -> tuple[str, list[str]]:
    """(who asks, as text; the version counters of what it may see)."""
    user = request.user
    key = getattr(request, "auth", None)
    scopes = sorted(getattr(key, "scopes", None) or ())
    if user.is_superuser:
        perms = ["*"]  # every permission (asking would read them all)
    else:
        perms = sorted(user.get_all_permissions()) if user.is_authenticated else []
    if user.is_superuser and api_key_site_ids(user) is None:
        sites: tuple[int, ...] = ()
        counters = [versions.ALL]
    else:
        sites = granted_site_ids(user)
        counters = [versions.GLOBAL, *(versions.site_key(s) for s in sites)]
    who = f"{user.pk}|{getattr(key, 'pk', '')}|{scopes}|{sites}|{perms}"
    return who, counters


def etag_for(request: Any) -> str | None:
    """The answer's ETag, or None when the versions cannot be read (no cache: answer in full)."""
    who, counters = _scope(request)
    try:
        data = versions.current(counters)
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
