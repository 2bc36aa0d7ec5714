"""Drop the cached authentication of device keys when it may change.

``devices.api.authentication`` caches a device key with its device and site,
stamped with the device auth epoch. Saving or deleting a device key (revoked,
rotated, expiry changed), a device (deactivated, moved to another site) or a
site bumps the epoch now and again after the transaction commits (an entry
rebuilt in between, from rows not yet committed, is dropped then). Bulk
``QuerySet.update()`` sends no signal: code that changes these rows in bulk
calls ``bump_device_auth_on_commit`` itself (``services.device_deactivate``).

Its own epoch, not the partner keys': a device saved in the admin should not
make every partner key be read again, nor a partner's grant every device key.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from devices.api.authentication import DEVICE_EPOCH_KEY
from devices.models import Device, DeviceKey
from tracker.api.key_cache import bump_epoch
from tracker.models import Site


def bump_device_auth_on_commit(*args: Any, **kwargs: Any) -> None:
    """Signal receiver (and a plain call): invalidate every cached device key, now and after commit."""
    bump_epoch(DEVICE_EPOCH_KEY)
    transaction.on_commit(functools.partial(bump_epoch, DEVICE_EPOCH_KEY))


def connect() -> None:
    for model in (DeviceKey, Device, Site):
        for signal in (post_save, post_delete):
            signal.connect(
                bump_device_auth_on_commit,
                sender=model,
                weak=False,
                dispatch_uid=f"device_auth_epoch.{signal is post_save}.{model._meta.label}",
            )
