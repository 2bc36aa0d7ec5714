"""The API base: scoping happens once, here, before any handler runs.

Concrete viewsets declare ``queryset``, ``serializer_class`` and
``filterset_class``; ``initial()`` swaps the queryset for
``queryset.restrict(user, action)`` with the action taken from the view's
``access`` declaration (tracker.api.access: the HTTP method's, or what a
custom action declares), so a list never shows, and a detail lookup never
finds, another site's object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from tracker.api import conditional as cond
from tracker.api.access import view_access
from tracker.scoping import RestrictedQuerySet

if TYPE_CHECKING:  # the mixin always comes before a GenericViewSet, whose initial() it extends
    _ViewSetBase = viewsets.GenericViewSet[Any]
else:
    _ViewSetBase = object


class ScopedViewSetMixin(_ViewSetBase):
    #: ETag / If-None-Match on list and retrieve (tracker.api.conditional): only for views whose
    #: answer is stored data (nothing computed from the clock).
    conditional: bool = False
    _etag: str | None = None

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        action = view_access(self).restrict_action(self.action, request.method)
        if action is None:
            raise PermissionDenied("Unknown action.")
        if action == "add":
            # A create is checked through its serializer's scoped related fields;
            # reading back happens through the view-restricted queryset.
            action = "view"
        queryset = getattr(self, "queryset", None)
        if queryset is not None:
            # (The stubs apply Manager.__get__ to this attribute of a view.)
            self.queryset = queryset.restrict(request.user, action)  # type: ignore[arg-type]
        if cond.wants_etag(self, request):
            self._etag = cond.etag_for(request)
            if self._etag is not None and cond.matches(request, self._etag):
                # The handler is looked up after initial(): answer 304 instead of running it.
                setattr(self, request.method.lower(), self._not_modified)

    def _not_modified(self, request, *args: Any, **kwargs: Any) -> Response:
        return Response(status=304)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._etag is not None and response.status_code in (200, 304):
            response["ETag"] = self._etag
        return response


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A related object given by natural key, looked up only among those the
    user may use: another site's object is 'does not exist', like a missing one.

    A serializer with many lines can ``prefetch()`` the keys its lines name:
    one query for all of them instead of one per line.
    """

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "null_characters": "Null characters are not allowed.",
    }

    def __init__(self, *args: Any, restrict_action: str = "view", **kwargs: Any) -> None:
        self.restrict_action = restrict_action
        super().__init__(*args, **kwargs)

    def get_queryset(self) -> RestrictedQuerySet[Any, Any]:
        queryset = super().get_queryset()
        if not isinstance(queryset, RestrictedQuerySet):
            raise TypeError(f"{type(self).__name__} looks up among a RestrictedQuerySet, not {queryset!r}")
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return queryset.restrict(user, self.restrict_action)

    def _memo(self) -> dict[str, Any]:
        # On the root serializer: a child serializer's fields are shared by its lines.
        memos = self.root.__dict__.setdefault("_natural_keys", {})
        return memos.setdefault(self._memo_key(), {})

    def _memo_key(self) -> tuple[type[models.Model], str, str]:
        queryset = self.queryset  # type: ignore[arg-type]  # the stubs apply Manager.__get__ to a field
        if queryset is None:
            raise TypeError(f"{type(self).__name__} needs a queryset to look keys up in")
        return (queryset.model, self.slug_field, self.restrict_action)

    def prefetch(self, values: Any) -> None:
        """Look up every string in ``values`` at once; later lookups of them cost no query."""
        memo = self._memo()
        # A key with a NUL cannot name anything (PostgreSQL refuses it in a query); its line says so.
        wanted = {v for v in values if isinstance(v, str) and v and "\x00" not in v} - memo.keys()
        if not wanted:
            return
        found: dict[str, list[Any]] = {}
        for obj in self.get_queryset().filter(**{f"{self.slug_field}__in": wanted}):
            found.setdefault(getattr(obj, self.slug_field), []).append(obj)
        for value in wanted:
            objs = found.get(value, [])
            if len(objs) <= 1:  # ambiguous keys are left to the per-value lookup and its error
                memo[value] = objs[0] if objs else None

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        memo = self.root.__dict__.get("_natural_keys", {}).get(self._memo_key(), {})
        if isinstance(data, str) and data in memo:
            if memo[data] is None:
                self.fail("does_not_exist", slug_name=self.slug_field, value=data)
            return memo[data]
        return super().to_internal_value(data)
