"""Drop cached access when it changes.

* ``granted_site_ids`` memoises on the user object. Grants made through
  ``tracker.services`` forget it explicitly; these receivers cover guardian's
  ``assign_perm`` and group membership changes made directly, which hand the
  same user object to the signal.
* API keys' cached authentication (``tracker.api.key_cache``) is stamped with
  the auth epoch; any change to keys, users, groups, permissions or site
  grants bumps it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save

from tracker.api.key_cache import bump_epoch_on_commit
from tracker.models import ApiKey, SiteGroupObjectPermission, SiteUserObjectPermission
from tracker.scoping import forget_site_ids


def _grant_changed(sender, instance, **kwargs) -> None:
    forget_site_ids(instance._state.fields_cache.get("user"))


def _groups_changed(sender, instance, **kwargs) -> None:
    forget_site_ids(instance)


post_save.connect(_grant_changed, sender=SiteUserObjectPermission, dispatch_uid="scoping.grant_saved")
post_delete.connect(_grant_changed, sender=SiteUserObjectPermission, dispatch_uid="scoping.grant_deleted")
m2m_changed.connect(_groups_changed, sender=get_user_model().groups.through, dispatch_uid="scoping.groups")


User = get_user_model()
for _model in (ApiKey, User, Group, SiteUserObjectPermission, SiteGroupObjectPermission):
    for _signal in (post_save, post_delete):
        _signal.connect(
            bump_epoch_on_commit,
            sender=_model,
            weak=False,
            dispatch_uid=f"auth_epoch.{_signal is post_save}.{_model._meta.label}",
        )
for _through in (ApiKey.sites.through, User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(
        bump_epoch_on_commit, sender=_through, weak=False, dispatch_uid=f"auth_epoch.m2m.{_through._meta.label}"
    )
