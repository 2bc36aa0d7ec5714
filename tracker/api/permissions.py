"""API permissions: authenticated, and the model permission for writes.

Reads are scoped by ``restrict()`` (a user without the view permission gets
an empty list or 404), so GET needs no model permission here. Anything this
class cannot decide denies.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from tracker.scoping import has_model_permission

METHOD_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


class ScopedModelPermissions(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in SAFE_METHODS:
            return True
        model = getattr(view, "permission_model", None)
        if model is None:
            queryset = getattr(view, "queryset", None)
            model = getattr(queryset, "model", None)
        if model is None:
            return False
        action = getattr(view, "write_permission_actions", {}).get(getattr(view, "action", None))
        action = action or METHOD_ACTIONS.get(request.method)
        if action is None:
            return False
        return has_model_permission(user, model, action)
