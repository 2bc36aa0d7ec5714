"""Reads about cycle counts: who may approve one (separation of duties)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F

from inventory.models import CycleCount, CycleCountLine
from tracker.request_context import actor_or_none


def count_approval_refusal(*, count: CycleCount, user: Any, lines: Iterable[CycleCountLine] | None = None) -> str:
    """Why ``user`` may not approve ``count`` under the site's separation of duties ("" when they may).

    The one rule, read by the approval itself, the count page (which offers no Approve button then)
    and the API. ``lines``: the count's lines already loaded (a page lists them), else one query when
    the site separates duties, none otherwise.
    """
    if not count.site.count_approval_by_other or actor_or_none(user) is None:
        return ""
    if lines is not None:
        counted = any(line.counted_by_id == user.pk and line.variance for line in lines)
    else:
        counted = count.lines.filter(counted_by=user, counted__isnull=False).exclude(counted=F("expected")).exists()
    if not counted:
        return ""
    return (
        f"{count.site.name} has count variances approved by someone other than the counter, "
        f"and {user.get_username()} counted this one: ask a colleague with approval rights."
    )
