"""Device keys, presented the ways real devices can.

* ``Authorization: Bearer <key>`` (or ``Token <key>``),
* ``Authorization: Basic base64(<device id>:<key>)`` (readers whose HTTP POST
  target only takes a user name and password),
* ``X-API-Key: <key>``,
* the key in the URL path (``/api/v1/devices/u/<key>/uploads/``) for devices
  that can only be given a URL. Such URLs end up in proxy logs: prefer a header
  where the device allows one, and revoke a key that leaked.

Keys look like ``sfd_<prefix>_<secret>``: the prefix finds the row, the SHA-256
of the whole key must match (``tracker.keys``). Revoked or expired keys and
deactivated devices are refused with 401 and a reason.

With Redis (the production shape) the key, its device and site are cached
between requests and read, with the ``last_used_at`` throttle, in one round trip
through the partner keys' gate (``tracker.api.key_gate``) instead of a query
joining three tables on every upload. Entries are stamped with the *device auth
epoch*, which any change to a device key, a device or a site bumps after its
transaction commits (``devices.key_signals``; the admin's bulk deactivation goes
through ``services.device_deactivate``), so a revoked or rotated key or a
deactivated device is refused on the next request on every node. Without Redis
(the embedded default's per-process cache, or Redis down) the row is read on
every request, as before.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from typing import Any, TypeGuard

from django.conf import settings
from rest_framework import exceptions

from devices.models import Device, DeviceKey
from tracker.api import key_gate
from tracker.api.authentication import HashedKeyAuthentication, authorization

KEY_KIND = "sfd"
#: The cache key of the device auth epoch (``tracker.api.key_cache.bump_epoch`` bumps it).
DEVICE_EPOCH_KEY = "auth:device-epoch"

logger = logging.getLogger("devices.api.keys")


def load_device_key(prefix: str) -> DeviceKey | None:
    """The key with this prefix, its device and site loaded; None if unknown."""
    return DeviceKey.objects.select_related("device__site").filter(prefix=prefix).first()


def _may_authenticate(key: DeviceKey) -> bool:
    return key.revoked_at is None and key.device.active


DEVICE_KEYS = key_gate.KeyKind(
    name="devicekey", epoch_key=DEVICE_EPOCH_KEY, build=load_device_key, valid=_may_authenticate
)


class DevicePrincipal:
    """``request.user`` for a device: authenticated, but holding no model permission,
    so every ``restrict()`` returns nothing; device views filter by ``device``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    pk = None
    id = None

    def __init__(self, device: Device, key: DeviceKey) -> None:
        self.device = device
        self.key = key

    def __str__(self) -> str:
        return f"device:{self.device.device_id}"

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


def is_device(user: Any) -> TypeGuard[DevicePrincipal]:
    return isinstance(user, DevicePrincipal)


def _presented(request) -> tuple[str | None, str | None]:
    """(key, device id from HTTP Basic or None); key None when no device key was presented."""
    context = getattr(request, "parser_context", None) or {}
    token = (context.get("kwargs") or {}).get("token")
    if token:
        return token, None
    scheme, value = authorization(request)
    if scheme in {"bearer", "token"} and value.startswith(f"{KEY_KIND}_"):
        return value, None
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed HTTP Basic credentials.") from None
        device_id, sep, key = decoded.partition(":")
        if not sep or not key.startswith(f"{KEY_KIND}_"):
            return None, None  # not a device key: let session/partner auth decide
        return key, device_id
    api_key = request.headers.get("X-API-Key", "").strip()
    if api_key.startswith(f"{KEY_KIND}_"):
        return api_key, None
    return None, None


class DeviceKeyAuthentication(HashedKeyAuthentication):
    """Authenticates a device by one of its keys (see the module docstring)."""

    kind = KEY_KIND
    noun = "device key"
    realm = "shopfloor-devices"
    gate_kind = DEVICE_KEYS
    log = logger

    def presented(self, request) -> tuple[str | None, str | None]:
        return _presented(request)

    def load(self, prefix: str) -> DeviceKey | None:
        return load_device_key(prefix)

    def gated_use(self, request, key: DeviceKey, now: dt.datetime, uses: int | None) -> None:
        if uses is not None:
            # This request set the touch marker: one UPDATE per key per interval, across nodes.
            DeviceKey.objects.filter(pk=key.pk).update(last_used_at=now)

    def principal(self, key: DeviceKey) -> tuple[DevicePrincipal, DeviceKey]:
        return DevicePrincipal(key.device, key), key

    def check_presented(self, key: DeviceKey, presented_with: str | None) -> None:
        if presented_with is not None and presented_with != key.device.device_id:
            raise exceptions.AuthenticationFailed("The key does not belong to this device id.")

    def check_holder(self, key: DeviceKey) -> None:
        if not key.device.active:
            raise exceptions.AuthenticationFailed("This device is deactivated.")

    def accept(self, request, key: DeviceKey, now: dt.datetime) -> tuple[DevicePrincipal, DeviceKey]:
        touch = dt.timedelta(seconds=settings.SHOPFLOOR["API_KEY_TOUCH_SECONDS"])
        if key.last_used_at is None or now - key.last_used_at >= touch:
            # At most one cheap UPDATE every few seconds per key, not one per upload.
            DeviceKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return self.principal(key)
