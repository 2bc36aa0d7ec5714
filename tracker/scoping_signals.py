"""Drop a user object's cached site ids when its grants change in this process.

``granted_site_ids`` memoises on the user object. Grants made through
``tracker.services`` forget it explicitly; these receivers cover guardian's
``assign_perm``/``remove_perm`` and group membership changes made directly,
which hand the same user object to the signal.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from tracker.models import SiteUserObjectPermission
from tracker.scoping import forget_site_ids


def _grant_changed(sender, instance, **kwargs) -> None:
    forget_site_ids(instance._state.fields_cache.get("user"))


def _groups_changed(sender, instance, **kwargs) -> None:
    forget_site_ids(instance)


post_save.connect(_grant_changed, sender=SiteUserObjectPermission, dispatch_uid="scoping.grant_saved")
post_delete.connect(_grant_changed, sender=SiteUserObjectPermission, dispatch_uid="scoping.grant_deleted")
m2m_changed.connect(_groups_changed, sender=get_user_model().groups.through, dispatch_uid="scoping.groups")
