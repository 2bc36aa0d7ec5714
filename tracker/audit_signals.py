"""Audit logins, failed logins, role and site-permission changes and admin edits."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from tracker.audit import audit_record
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


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="audit.groups")
def _groups_changed(sender, instance, action, pk_set, **kwargs):
    if action in {"post_add", "post_remove", "post_clear"}:
        audit_record(
            actor=None,
            action=f"auth.roles.{action.removeprefix('post_')}",
            obj=instance,
            changes={"groups": sorted(pk_set or [])},
        )


def _site_perm_saved(sender, instance, created, **kwargs):
    if created:
        holder = getattr(instance, "user", None) or getattr(instance, "group", None)
        audit_record(
            actor=None,
            action="access.site.granted",
            obj=instance.content_object,
            changes={"holder": str(holder), "permission": instance.permission.codename},
        )


def _site_perm_deleted(sender, instance, **kwargs):
    holder = getattr(instance, "user", None) or getattr(instance, "group", None)
    audit_record(
        actor=None,
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
