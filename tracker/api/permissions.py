"""API permissions: authenticated, and the model permission for writes.

Reads are scoped by ``restrict()`` (a user without the view permission gets
an empty list or 404), so GET needs no model permission here. Writes need the
model permission the view's ``access`` declaration names for the action
(tracker.api.access; default: the queryset's model and the HTTP method's
action). Anything this class cannot decide denies.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from tracker.api.access import view_access
from tracker.scoping import has_model_permission


class ScopedModelPermissions(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in SAFE_METHODS:
            return True
        model, action = view_access(view).permission(getattr(view, "action", None), request.method)
        if model is None:
            queryset = getattr(view, "queryset", None)
            model = getattr(queryset, "model", None)
        if model is None or action is None:
            return False
        return has_model_permission(user, model, action)
