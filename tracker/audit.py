"""Recording the audit trail. The trail is append-only: nothing updates a row."""

from __future__ import annotations

from typing import Any

from django.db import models

from tracker.models import AuditEvent, Site
from tracker.request_context import actor_or_none, client_ip_var, request_id_var


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    site: Site | None = None,
    changes: dict | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Append one audit event; ``actor`` may be None (system) or anonymous."""
    user = actor_or_none(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
        if site is None:
            site = obj if isinstance(obj, Site) else getattr(obj, "site", None)
    return AuditEvent.objects.create(
        actor=user,
        actor_repr=(getattr(actor, "get_username", lambda: "")() if actor is not None else "system")[:150]
        or "anonymous",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        site=site if isinstance(site, Site) else None,
        changes=changes or {},
        ip=client_ip_var.get(),
        request_id=request_id_var.get(),
    )
