from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def expected_slice(self, request: Any) -> tuple[int, int] | None:
        """The slice ``paginate_queryset`` will read for ``request`` when it names its page by
        number (or names none: the first), before the count decides; else None."""
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or 1
        try:
            number = int(raw)
        except (TypeError, ValueError):
            return None
        if not size or number < 1:
            return None
        start = (number - 1) * size
        return start, start + size


class LedgerCursorPagination(pagination.CursorPagination):
    """For lists that grow without end (moves, events): stable and O(page)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-id"


class CountedRows:
    """What a lean list hands ``PageNumberPagination``: its shown columns (``rows``, a
    ``.values_list()`` of ``filtered``) counted as ``filtered`` itself.

    The count of a ``.values_list()`` joins every table a shown column comes from; the
    filtered queryset's count joins only what its filters need (inner joins along non-null
    foreign keys and left joins never change a count), so it is cheaper to build and to run.
    """

    def __init__(self, rows: QuerySet[Any, Any], filtered: QuerySet[Any, Any]) -> None:
        self.rows = rows
        self.filtered = filtered

    @property
    def ordered(self) -> bool:  # read by Django's Paginator (its unordered-list warning)
        return self.rows.ordered

    def count(self) -> int:
        return self.filtered.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]
