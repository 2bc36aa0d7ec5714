"""Audit logins, failed logins, lockouts, role, permission and flag changes, and admin edits.

The actor of a change made inside a request (admin, API) is the request's
user (``tracker.middleware.current_user``); outside a request it is "system".
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from tracker.audit import audit_record
from tracker.middleware import current_user
from tracker.models import SiteGroupObjectPermission, SiteUserObjectPermission

User = get_user_model()


@receiver(user_logged_in, dispatch_uid="audit.login")
def _login(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.login", obj=user)


@receiver(user_logged_out, dispatch_uid="audit.logout")
def _logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.logout", obj=user)


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    audit_record(
        actor=None,
        action="auth.login_failed",
        object_type="auth.user",
        object_repr=str(credentials.get("username", ""))[:200],
    )


@receiver(user_locked_out, dispatch_uid="audit.locked_out")
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    audit_record(
        actor=None,
        action="auth.locked_out",
        object_type="auth.user",
        object_repr=str(username or "")[:200],
        changes={"ip": ip_address},
    )


def _m2m_audit(prefix: str, field: str):
    def handler(sender, instance, action, pk_set, reverse, model, **kwargs):
        if action not in {"post_add", "post_remove", "post_clear"}:
            return
        # reverse: the change was made from the other side (group.user_set.add(user)).
        audit_record(
            actor=current_user(),
            action=f"{prefix}.{action.removeprefix('post_')}",
            obj=instance,
            changes={("members" if reverse else field): sorted(pk_set or []), "model": model._meta.label_lower},
        )

    return handler


m2m_changed.connect(
    _m2m_audit("auth.roles", "groups"), sender=User.groups.through, weak=False, dispatch_uid="audit.groups"
)
m2m_changed.connect(
    _m2m_audit("auth.permissions", "permissions"),
    sender=User.user_permissions.through,
    weak=False,
    dispatch_uid="audit.user_permissions",
)
m2m_changed.connect(
    _m2m_audit("auth.group_permissions", "permissions"),
    sender=Group.permissions.through,
    weak=False,
    dispatch_uid="audit.group_permissions",
)

_PRIVILEGE_FLAGS = ("is_active", "is_staff", "is_superuser")


@receiver(pre_save, sender=User, dispatch_uid="audit.user_flags.before")
def _user_flags_before(sender, instance, update_fields=None, **kwargs):
    # Saving last_login on every login must not cost a query.
    if instance.pk is None or (update_fields is not None and not set(update_fields) & set(_PRIVILEGE_FLAGS)):
        instance._audit_flags = None
        return
    instance._audit_flags = User.objects.filter(pk=instance.pk).values(*_PRIVILEGE_FLAGS).first()


@receiver(post_save, sender=User, dispatch_uid="audit.user_flags.after")
def _user_flags_after(sender, instance, created, **kwargs):
    before = getattr(instance, "_audit_flags", None)
    if created or before is None:
        granted = {f: True for f in ("is_staff", "is_superuser") if getattr(instance, f, False)}
        if granted:
            audit_record(actor=current_user(), action="auth.user.privileges", obj=instance, changes=granted)
        return
    changed = {f: [before[f], getattr(instance, f)] for f in _PRIVILEGE_FLAGS if before[f] != getattr(instance, f)}
    if changed:
        audit_record(actor=current_user(), action="auth.user.privileges", obj=instance, changes=changed)


def _site_perm_saved(sender, instance, created, **kwargs):
    if created:
        holder = getattr(instance, "user", None) or getattr(instance, "group", None)
        audit_record(
            actor=current_user(),
            action="access.site.granted",
            obj=instance.content_object,
            changes={"holder": str(holder), "permission": instance.permission.codename},
        )


def _site_perm_deleted(sender, instance, **kwargs):
    holder = getattr(instance, "user", None) or getattr(instance, "group", None)
    audit_record(
        actor=current_user(),
        action="access.site.revoked",
        object_type="tracker.site",
        object_id=str(instance.content_object_id),
        changes={"holder": str(holder), "permission": instance.permission.codename},
    )


for _model in (SiteUserObjectPermission, SiteGroupObjectPermission):
    post_save.connect(_site_perm_saved, sender=_model, dispatch_uid=f"audit.grant.{_model.__name__}")
    post_delete.connect(_site_perm_deleted, sender=_model, dispatch_uid=f"audit.revoke.{_model.__name__}")


@receiver(post_save, sender=LogEntry, dispatch_uid="audit.admin")
def _admin_change(sender, instance, created, **kwargs):
    if created:
        audit_record(
            actor=instance.user,
            action=f"admin.{ {1: 'add', 2: 'change', 3: 'delete'}.get(instance.action_flag, 'other') }",
            object_type=(
                f"{instance.content_type.app_label}.{instance.content_type.model}" if instance.content_type else ""
            ),
            object_id=instance.object_id or "",
            object_repr=instance.object_repr[:200],
            changes={"message": instance.get_change_message()},
        )
