"""Pipeline state for admins (``/devices/pipeline/``): uploads per minute, processing
lag, what is waiting, rejected uploads with their reasons and silent devices,
over all sites for superusers. Staff holding ``devices.view_readerupload`` see
the sites they hold only (``restrict()``, like every other page).

Every figure is one aggregate query on indexed columns (status, received_at),
so the page costs the same with ten uploads or ten million.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, F, Max, Min
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_safe

from devices.models import Device, ReaderUpload, UploadStatus

WINDOW_MIN = 15


def pipeline_state(*, user: Any, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - dt.timedelta(minutes=WINDOW_MIN)
    uploads = ReaderUpload.objects.restrict(user, "view")
    recent = uploads.filter(received_at__gte=since)
    per_minute = [0] * WINDOW_MIN
    for row in recent.values_list("received_at", flat=True).order_by():
        index = min(int((now - row).total_seconds() // 60), WINDOW_MIN - 1)
        per_minute[WINDOW_MIN - 1 - index] += 1
    done = recent.filter(status=UploadStatus.PROCESSED, processed_at__isnull=False).aggregate(
        avg=Avg(F("processed_at") - F("received_at")), worst=Max(F("processed_at") - F("received_at"))
    )
    queued = uploads.filter(status=UploadStatus.QUEUED).aggregate(n=Count("pk"), oldest=Min("received_at"))
    rejected = list(
        uploads.filter(status=UploadStatus.REJECTED)
        .select_related("device", "site")
        .defer("body")
        .order_by("-received_at")[:50]
    )
    reasons = list(
        uploads.filter(status=UploadStatus.REJECTED, received_at__gte=now - dt.timedelta(days=1))
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10]
    )
    silent = list(
        Device.objects.restrict(user, "view")
        .filter(silent_since__isnull=False, active=True)
        .select_related("site")
        .order_by("silent_since")[:100]
    )
    return {
        "now": now,
        "window": WINDOW_MIN,
        "per_minute": per_minute,
        "per_minute_max": max(per_minute) or 1,
        "uploads_per_minute": round(sum(per_minute) / WINDOW_MIN, 1),
        "lag_avg_s": done["avg"].total_seconds() if done["avg"] is not None else None,
        "lag_max_s": done["worst"].total_seconds() if done["worst"] is not None else None,
        "queued": queued["n"],
        "oldest_queued_s": (now - queued["oldest"]).total_seconds() if queued["oldest"] else None,
        "rejected": rejected,
        "reasons": reasons,
        "silent": silent,
    }


@staff_member_required
@require_safe
def pipeline_state_view(request):
    if not (request.user.is_superuser or request.user.has_perm("devices.view_readerupload")):
        raise PermissionDenied
    return render(request, "devices/pipeline_state.html", pipeline_state(user=request.user))


urlpatterns = [path("", pipeline_state_view, name="pipeline_state")]
