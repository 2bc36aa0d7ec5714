"""Reads of the devices app, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from devices.models import Device, ReaderUpload, ReadPoint, TagAssignment, UnknownTag, UploadStatus
from tracker.models import Site


def devices_for_site(*, user: Any, site: Site) -> QuerySet[Device]:
    return (
        Device.objects.restrict(user, "view").filter(site=site).select_related("location").order_by("kind", "device_id")
    )


def device_get(*, user: Any, site: Site, device_id: str) -> Device | None:
    return (
        devices_for_site(user=user, site=site)
        .prefetch_related(Prefetch("read_points", queryset=ReadPoint.objects.select_related("location")))
        .filter(device_id=device_id)
        .first()
    )


def uploads_recent(*, user: Any, device: Device, limit: int = 50) -> QuerySet[ReaderUpload]:
    return ReaderUpload.objects.restrict(user, "view").filter(device=device).defer("body").order_by("-id")[:limit]


def upload_counts(*, user: Any, site: Site) -> dict[str, int]:
    return (
        ReaderUpload.objects.restrict(user, "view")
        .filter(site=site)
        .aggregate(
            queued=Count("id", filter=Q(status=UploadStatus.QUEUED)),
            rejected=Count("id", filter=Q(status=UploadStatus.REJECTED)),
        )
    )


def unknown_tags(*, user: Any, site: Site) -> QuerySet[UnknownTag]:
    return (
        UnknownTag.objects.restrict(user, "view")
        .filter(site=site)
        .select_related("tag", "last_location", "last_device")
        .order_by("-last_seen_at")
    )


def work_order_in_container(*, user: Any, site: Site, scan: Any) -> int | None:
    """The work order a scanned tote carries now (registered with ``wip.scanning``).

    The tote is the tag whose id the label carries (a barcode tag, or the SSCC's
    EPC URI when its company prefix is known), or the tag that was assigned as a
    container with that code before it took the order. The order is that tag's
    current work-order assignment. One query.
    """
    from devices.parsers._common import epc_uri_from_elements

    codes = {scan.text}
    if scan.value("00"):
        codes.add(scan.value("00"))
    tag_ids = set(codes)
    if scan.is_gs1 and (uri := epc_uri_from_elements(dict(scan.elements))):
        tag_ids.add(uri)
    labelled = TagAssignment.objects.filter(tag__site=site, target_kind__in=["container", "asset"], code__in=codes)
    work_order_id: int | None = (
        TagAssignment.objects.restrict(user, "view")
        .current()
        .filter(tag__site=site, target_kind="work_order")
        .filter(Q(tag__tag_id__in=tag_ids) | Q(tag_id__in=labelled.values("tag_id")))
        .order_by("-valid_from")
        .values_list("work_order_id", flat=True)
        .first()
    )
    return work_order_id
