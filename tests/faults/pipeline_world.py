"""A small plant for the fault tests (reusing the PostgreSQL pipeline tests' world):
a reader with two zones, five lot tags, five serial tags and five unknown tags,
and uploads that move them zone 1 -> 2 -> 1 -> 2. Snapshots compare worlds."""

from __future__ import annotations

import datetime as dt
import json

from devices import services
from devices.tests.test_postgres import _body, _snapshot, _world

__all__ = ["bodies", "clean_snapshot", "make_world", "snapshot"]


def bodies(prefix: int, count: int = 4) -> list[bytes]:
    """``count`` uploads of the same tags, a minute apart, alternating zones."""
    first = json.loads(_body(prefix))
    out = []
    for n in range(count):
        events = json.loads(json.dumps(first))
        for e in events:
            t = dt.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z") + dt.timedelta(minutes=n)
            e["timestamp"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"
            if n % 2:
                e["data"]["antenna"] = 3 - e["data"]["antenna"]
        out.append(json.dumps(events).encode())
    return out


def make_world(prefix: int):
    """(site, reader, device key secret)."""
    site, reader = _world(prefix)
    _, secret = services.device_key_create(device=reader, name="faults")
    return site, reader, secret


def snapshot(site, prefix: int) -> dict:
    return _snapshot(site, prefix)


def clean_snapshot(prefix: int, count: int = 4) -> dict:
    """Effects of the uploads processed once each, in order, with nothing failing."""
    from unittest import mock

    site, reader, _ = make_world(prefix)
    for body in bodies(prefix, count):
        with mock.patch("devices.upload_queue.hand_off"):
            upload, _ = services.reader_upload_receive(device=reader, body=body)
        services.reader_upload_process(upload_id=upload.pk)
    return snapshot(site, prefix)
