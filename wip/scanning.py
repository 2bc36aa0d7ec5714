"""What a scan at a station names: the work order of a traveler or of a tote.

A traveler (``wip/labels/views.py``) is a plain Code 128 of the work order
number, with a QR of the order's page URL; a tote label is its container code
(Code 128) or SSCC (GS1, AI 00). Which order a tote carries is known to the
tags (``devices``), which sit above ``wip``: they register a resolver here from
their ``AppConfig.ready()``, as the apps register dashboard panels with tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from django.urls import Resolver404, resolve

from inventory.scanning import DecodedScan, ScanError, decode_scan
from tracker.models import Site
from wip.models import WorkOrder

#: ``(user=, site=, scan=) -> work order pk or None``: the order a scanned container carries.
ContainerResolver = Callable[..., int | None]
CONTAINER_RESOLVERS: list[ContainerResolver] = []


def register_container_resolver(resolver: ContainerResolver) -> None:
    if resolver not in CONTAINER_RESOLVERS:
        CONTAINER_RESOLVERS.append(resolver)


def _number_from_url(url: str) -> str | None:
    """The work order number in a traveler QR's URL (``/wip/work-orders/<number>/``), whatever its host."""
    try:
        match = resolve(unquote(urlsplit(url).path))
    except Resolver404:
        return None
    return match.kwargs.get("number") if match.view_name == "wip:work_order" else None


def scanned_work_order_number(scan: DecodedScan) -> str | None:
    """The work order number a traveler scan carries (None for a GS1 or foreign barcode)."""
    if scan.url:
        return _number_from_url(scan.url)
    return None if scan.is_gs1 else scan.text


def work_order_from_scan(*, user: Any, site: Site, text: str) -> WorkOrder | None:
    """The open or closed work order at ``site`` that a traveler or tote scan names,
    among those ``user`` may view; None when it names none (or one of another site)."""
    try:
        scan = decode_scan(text)
    except ScanError:
        return None
    orders = WorkOrder.objects.restrict(user, "view").filter(site=site)
    number = scanned_work_order_number(scan)
    if number:
        order = orders.filter(number=number).first()
        if order is not None:
            return order
    if scan.url:
        return None
    for resolver in CONTAINER_RESOLVERS:
        pk = resolver(user=user, site=site, scan=scan)
        if pk is not None:
            return orders.filter(pk=pk).first()
    return None
