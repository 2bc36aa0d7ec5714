"""Devices' answer to the search box (``tracker.search``): tags by id, EPC hex or what they are assigned to.

One scoped query: a tag matches on its id, its EPC in hex, or the code of the container or asset it is
assigned to now; its current assignment comes along as two subqueries of the same statement. A hit opens
the asset finder, which shows where the tag (or what it carries) is at the current site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import CharField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse

from devices.models import Tag, TagAssignment, TagKind, TargetKind
from tracker.search import SearchHit, SearchSource, matching, register_search


def _tags(*, user: Any, query: str, limit: int) -> list[SearchHit]:
    current = TagAssignment.objects.filter(tag=OuterRef("pk"), valid_to__isnull=True)
    label = Coalesce(
        NullIf("code", Value("")), "work_order__number", "lot__code", "serial__serial", output_field=CharField()
    )
    coded = TagAssignment.objects.filter(valid_to__isnull=True, code__icontains=query).values("tag_id")
    tags = matching(Tag.objects.restrict(user, "view"), query, "tag_id", "epc_hex", also=Q(pk__in=coded))
    rows = tags.annotate(
        assigned_kind=Subquery(current.values("target_kind")[:1]),
        assigned_label=Subquery(current.annotate(label=label).values("label")[:1]),
    ).values_list("tag_id", "kind", "assigned_kind", "assigned_label", "site__code", "site__name")
    finder = reverse("devices:finder")
    hits = []
    for tag_id, kind, assigned_kind, assigned_label, site_code, site_name in rows[:limit]:
        assigned = f"on {TargetKind(assigned_kind).label.lower()} {assigned_label}" if assigned_kind else "unassigned"
        exact_label = assigned_label and assigned_label.casefold() == query.casefold()
        key = assigned_label if exact_label and assigned_kind in (TargetKind.CONTAINER, TargetKind.ASSET) else tag_id
        hits.append(
            SearchHit(
                key=key,
                title=tag_id,
                detail=f"{TagKind(kind).label} · {assigned}",
                url=f"{finder}?{urlencode({'q': key})}",
                site_code=site_code,
                site_name=site_name,
            )
        )
    return hits


def register() -> None:
    register_search(SearchSource("tags", "Tags", ("devices.view_tag",), _tags, order=50))
