"""Periodic health checks of devices and tags (Celery beat): silent devices, low
batteries, missing tags. Re-exported by ``devices.services``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from devices.conf import site_settings
from devices.models import PERIODIC_UPLOADERS, Device, DeviceKind, TagAssignment, TagState
from tracker.models import Site
from tracker.realtime import broadcast
from tracker.services import alert_clear, alert_raise


def _silence_limit(device: Device, conf: dict[str, Any]) -> int:
    limit: int
    if device.kind in PERIODIC_UPLOADERS and device.upload_period_s:
        limit = device.upload_period_s * conf["gateway_silent_periods"]
    else:
        limit = conf["reader_silent_s"]
    return limit


@transaction.atomic
def devices_check_silent(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise ``device.silent`` for uploading devices not heard for too long (readers
    after ``reader_silent_s``, gateways after three upload periods); cleared by the
    pipeline when the device is heard again."""
    now = now or timezone.now()
    raised = 0
    devices = (
        Device.objects.filter(active=True, silent_since__isnull=True, last_seen_at__isnull=False)
        .exclude(kind__in=[DeviceKind.TAG])
        .exclude(upload_format="")
        .select_related("site")
    )
    for device in devices:
        conf = site_settings(device.site)
        limit = _silence_limit(device, conf)
        last_seen_at = device.last_seen_at
        if last_seen_at is None or last_seen_at >= now - dt.timedelta(seconds=limit):
            continue  # (None: excluded by the query; the check narrows the type)
        Device.objects.filter(pk=device.pk).update(silent_since=now)
        alert_raise(
            site=device.site_id,
            kind="device.silent",
            subject=f"device:{device.device_id}",
            message=f"Device {device.device_id} has not uploaded since {last_seen_at:%Y-%m-%d %H:%M} UTC.",
            data={"device": device.device_id, "last_seen_at": last_seen_at.isoformat()},
            at=now,
        )
        broadcast(
            site_id=device.site_id,
            type="device.status",
            data={"device": {"device_id": device.device_id, "status": "silent"}},
        )
        raised += 1
    return {"silent": raised}


@transaction.atomic
def devices_check_battery(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise ``device.battery_low`` under the site's threshold; clear above the
    (higher) ok level, so a battery hovering at the limit does not flap."""
    raised = cleared = 0
    for device in Device.objects.filter(active=True, battery_pct__isnull=False).select_related("site"):
        conf = site_settings(device.site)
        subject = f"device:{device.device_id}"
        battery_pct = device.battery_pct
        if battery_pct is None:  # excluded by the query; the check narrows the type
            continue
        if battery_pct < conf["battery_low_pct"]:
            _, created = alert_raise(
                site=device.site_id,
                kind="device.battery_low",
                subject=subject,
                message=f"Battery of {device.device_id} is at {battery_pct.normalize()} %.",
                data={"device": device.device_id, "battery_pct": str(battery_pct)},
                at=now,
            )
            raised += int(created)
        elif battery_pct >= conf["battery_ok_pct"]:
            cleared += int(
                alert_clear(site=device.site_id, kind="device.battery_low", subject=subject, at=now) is not None
            )
    return {"raised": raised, "cleared": cleared}


@transaction.atomic
def tags_check_missing(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise ``tag.missing`` for assigned tags not seen at their location for too long,
    unless the reader that last saw them is itself silent (then the reader's
    silence is the alert, not a thousand missing tags)."""
    now = now or timezone.now()
    raised = 0
    for site in Site.objects.only("pk", "settings"):
        conf = site_settings(site)
        horizon = now - dt.timedelta(seconds=conf["tag_missing_s"])
        assigned = TagAssignment.objects.filter(tag_id=OuterRef("tag_id"), valid_to__isnull=True)
        states = (
            TagState.objects.filter(
                Exists(assigned),
                site=site,
                location__isnull=False,
                missing_since__isnull=True,
                last_seen_at__lt=horizon,
            )
            .filter(Q(last_device__isnull=True) | Q(last_device__silent_since__isnull=True))
            .select_related("tag", "location", "last_device")
            .order_by("pk")
        )
        for state in states:
            location, last_seen_at = state.location, state.last_seen_at
            if location is None or last_seen_at is None:  # excluded by the query; narrows the types
                continue
            device = state.last_device
            if device is not None and device.last_seen_at is not None:
                limit = _silence_limit(device, conf)
                if device.last_seen_at < now - dt.timedelta(seconds=limit):
                    continue  # its reader is silent too
            TagState.objects.filter(pk=state.pk).update(missing_since=now)
            alert_raise(
                site=site.pk,
                kind="tag.missing",
                subject=f"tag:{state.tag.tag_id}",
                message=f"Tag {state.tag.tag_id} not seen at {location.code} since {last_seen_at:%Y-%m-%d %H:%M} UTC.",
                data={
                    "tag": state.tag.tag_id,
                    "location": location.code,
                    "last_seen_at": last_seen_at.isoformat(),
                },
                at=now,
            )
            raised += 1
    return {"missing": raised}
