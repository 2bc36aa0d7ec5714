"""What each API action needs, declared once per view.

A view says ``access = Access(...)``: the partner-key scope its reads and its
writes need, the model whose permission writes need (default: its queryset's)
and, for actions that differ, a ``Needs`` per DRF action name. Everything that
checks a request reads that one declaration:

* ``ScopedViewSetMixin.initial`` (tracker.api.base): the ``restrict()`` action
  for the queryset,
* ``ScopedModelPermissions`` (tracker.api.permissions): the model permission a
  write needs,
* ``ApiKeyScopePermission`` (tracker.api.partner): the scope a key needs.

A view that declares nothing serves reads to any key and refuses writes to
keys (a new write endpoint is closed to partners until it names its scope).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from django.db import models
from rest_framework.permissions import SAFE_METHODS

#: HTTP method -> restrict() action when the action declares none.
METHOD_ACTIONS: Final = MappingProxyType(
    {
        "GET": "view",
        "HEAD": "view",
        "OPTIONS": "view",
        "POST": "add",
        "PUT": "change",
        "PATCH": "change",
        "DELETE": "delete",
    }
)


@dataclass(frozen=True)
class ClosedToKeys:
    """A scope that no key holds: the action is for people only, because ``reason``."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("Say why the endpoint is closed to API keys.")


def closed_to_keys(reason: str) -> ClosedToKeys:
    return ClosedToKeys(reason)


#: What a key needs: a scope, closed to keys, or None (reads: any key; writes: no key).
Scope = str | ClosedToKeys | None


class _Inherit:
    """The scope of a ``Needs`` that says none: the view's read or write scope, by method."""

    def __repr__(self) -> str:
        return "INHERIT"


INHERIT: Final = _Inherit()


@dataclass(frozen=True)
class Needs:
    """What one action needs, where it differs from what its HTTP method implies.

    ``permission``: the model permission action ("add", "change"...) a write needs.
    ``restrict``: the ``restrict()`` action for the view's queryset (default: ``permission``;
    "view" when the action writes other rows than the view's, e.g. a run started from its order).
    ``model``: whose permission (default: the view's ``Access.model`` or queryset model).
    ``scope``: the key scope (default: the view's read or write scope).
    """

    permission: str | None = None
    restrict: str | None = None
    model: type[models.Model] | None = None
    scope: Scope | _Inherit = INHERIT


@dataclass(frozen=True)
class Access:
    """A view's one declaration of what its actions need (see the module docstring)."""

    read: Scope = None
    write: Scope = None
    model: type[models.Model] | None = None
    actions: Mapping[str, Needs] = field(default_factory=dict)

    def _needs(self, action: str | None) -> Needs | None:
        return self.actions.get(action) if action is not None else None

    def scope(self, action: str | None, method: str | None) -> Scope:
        needs = self._needs(action)
        if needs is not None and not isinstance(needs.scope, _Inherit):
            return needs.scope
        return self.read if method in SAFE_METHODS else self.write

    def restrict_action(self, action: str | None, method: str | None) -> str | None:
        """The ``restrict()`` action for the queryset; None when unknown (deny)."""
        needs = self._needs(action)
        if needs is not None and (needs.restrict or needs.permission):
            return needs.restrict or needs.permission
        return METHOD_ACTIONS.get(method or "")

    def permission(self, action: str | None, method: str | None) -> tuple[type[models.Model] | None, str | None]:
        """(model, permission action) a write needs; either None when unknown (deny)."""
        needs = self._needs(action)
        model = (needs.model if needs is not None else None) or self.model
        verb = needs.permission if needs is not None else None
        if verb is None and method not in SAFE_METHODS:
            verb = METHOD_ACTIONS.get(method or "")
        return model, verb


NOTHING_DECLARED: Final = Access()

_LEGACY = ("required_scope", "restrict_actions", "write_permission_actions", "permission_model")


def view_access(view: Any) -> Access:
    """The view's (or view class's) declaration; ``NOTHING_DECLARED`` when it has none.

    A view still naming the attributes ``access`` replaced is an error, not "nothing
    declared" (which would open its reads to every key): the checks fail closed on it.
    """
    declared = getattr(view, "access", None)
    legacy = [name for name in _LEGACY if getattr(view, name, None) is not None]
    if legacy:
        raise TypeError(
            f"{getattr(view, '__name__', type(view).__name__)} declares {legacy}: declare access = Access(...)"
        )
    if declared is None:
        return NOTHING_DECLARED
    if not isinstance(declared, Access):
        raise TypeError(f"{type(view).__name__}.access must be an Access, not {declared!r}")
    return declared
