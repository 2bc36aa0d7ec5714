"""A device key's authentication is cached between uploads (with Redis), and a revoked or
rotated key or a deactivated device is refused on the next request, on every node.

The tests marked ``redis`` run with the production shape's shared cache; the others
check the same rules on whatever cache the run has (the embedded default reads the row
on every request).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import services
from devices.api import authentication as device_auth
from devices.models import Device, DeviceKey
from devices.tests.helpers import example, post_upload
from tests.factories.devices import device_with_key
from tests.factories.tracker import SiteFactory
from tracker.api import key_cache, key_gate

pytestmark = pytest.mark.django_db

BODY = example("zebra_iotc")
_upload_ids = itertools.count(1)


def upload(secret: str, **kwargs):
    """POST the same body as a new upload each time (its own upload id)."""
    return post_upload(BODY, secret, headers={"HTTP_X_UPLOAD_ID": f"u-{next(_upload_ids)}"}, **kwargs)


def refused(response, reason: str) -> bool:
    return response.status_code == 401 and reason in response.json()["detail"]


@pytest.fixture
def reader(site_a):
    device, secret = device_with_key(site=site_a, device_id="FX-C1")
    assert upload(secret).status_code == 202  # with Redis, the key is cached from here on
    return device, secret


# --------------------------------------------------------------------------- on every cache


def test_a_revoked_key_is_refused_on_the_next_request(reader):
    device, secret = reader
    services.device_key_revoke(key=device.keys.get())
    assert refused(upload(secret), "revoked")


def test_a_rotated_key_is_refused_and_its_successor_accepted(reader):
    device, secret = reader
    old = device.keys.get()
    new, new_secret = services.device_key_rotate(key=old)

    assert refused(upload(secret), "revoked")
    assert upload(new_secret).status_code == 202
    old.refresh_from_db()
    assert old.revoked_at is not None and new.device == device and new.name == old.name


def test_a_deactivated_device_is_refused_on_the_next_request(reader):
    device, secret = reader
    services.device_deactivate(device=device)
    assert refused(upload(secret), "deactivated")


def test_the_admin_deactivation_is_refused_on_the_next_request(reader, admin_client):
    device, secret = reader
    admin_client.post("/admin/devices/device/", {"action": "deactivate", "_selected_action": [device.pk]})
    assert not Device.objects.get(pk=device.pk).active
    assert refused(upload(secret), "deactivated")


def test_an_expiry_set_in_the_admin_applies_on_the_next_request(reader):
    device, secret = reader
    key = device.keys.get()
    key.expires_at = timezone.now() - dt.timedelta(minutes=1)
    key.save()
    assert refused(upload(secret), "expired")


def test_a_wrong_secret_with_a_known_prefix_is_refused(reader):
    device, _ = reader
    prefix = device.keys.get().prefix
    assert refused(upload(f"sfd_{prefix}_{'x' * 43}"), "Unknown device key")


# --------------------------------------------------------------------------- with Redis


@pytest.mark.redis
def test_a_cached_key_reads_no_key_row_and_costs_one_round_trip(reader, monkeypatch):
    device, secret = reader
    cache_key = key_gate.touch_key(device.keys.get().prefix, device_auth.DEVICE_KEYS)
    from django.core.cache import cache

    cache.set(cache_key, 1, timeout=60)  # no last_used_at write due in this request
    client = key_gate.redis_client()
    assert client is not None
    commands: list[str] = []
    original = client.execute_command

    def counting(*args, **kwargs):
        commands.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counting)
    with CaptureQueriesContext(connection) as ctx:
        assert upload(secret).status_code == 202
    assert not [q["sql"] for q in ctx.captured_queries if "devices_devicekey" in q["sql"]]
    assert commands == ["EVALSHA"]


@pytest.mark.redis
def test_a_change_made_on_another_node_applies_through_the_shared_epoch(reader):
    device, secret = reader
    # Another node revokes it: a bulk update sends no signal here, only the shared epoch tells.
    DeviceKey.objects.filter(device=device).update(revoked_at=timezone.now())
    assert upload(secret).status_code == 202  # this node still serves its cached entry...
    key_cache.bump_epoch(device_auth.DEVICE_EPOCH_KEY)  # ...until the other node's commit bumps the epoch
    assert refused(upload(secret), "revoked")


@pytest.mark.redis
def test_device_changes_do_not_invalidate_partner_keys_nor_the_reverse(reader):
    from django.core.cache import cache

    device, _ = reader
    partner_epoch = cache.get(key_cache.EPOCH_KEY)
    device_epoch = cache.get(device_auth.DEVICE_EPOCH_KEY)
    services.device_deactivate(device=device)
    assert cache.get(key_cache.EPOCH_KEY) == partner_epoch
    assert cache.get(device_auth.DEVICE_EPOCH_KEY) != device_epoch


@pytest.mark.redis
def test_a_device_moved_to_another_site_uploads_there_on_the_next_request(reader):
    device, secret = reader
    other = SiteFactory(code="plant-c")
    device.site = other
    device.save()
    response = upload(secret)
    assert response.status_code == 202
    assert device.uploads.get(pk=response.json()["id"]).site_id == other.pk


@pytest.mark.redis
def test_last_used_at_is_written_once_per_interval(reader):
    from django.core.cache import cache

    device, secret = reader
    key = device.keys.get()
    first = key.last_used_at
    assert first is not None
    for _ in range(3):
        upload(secret)
    key.refresh_from_db()
    assert key.last_used_at == first  # the touch marker holds the writes back
    cache.delete(key_gate.touch_key(key.prefix, device_auth.DEVICE_KEYS))
    upload(secret)
    key.refresh_from_db()
    assert key.last_used_at > first


@pytest.mark.redis
def test_redis_down_reads_the_key_from_the_database(reader, monkeypatch):
    device, secret = reader

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(key_gate, "pass_gate", down)
    assert upload(secret).status_code == 202
    DeviceKey.objects.filter(device=device).update(revoked_at=timezone.now())  # no signal, no epoch: the row decides
    assert refused(upload(secret), "revoked")
