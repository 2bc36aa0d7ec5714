"""Label pages for work order travelers and totes (preview, PDF sheet, ZPL).

A traveler's barcode is a plain Code 128 of the work order number: that is
exactly what the station page's traveler field takes, so a scan there makes
the order arrive. Its QR carries the work order page's URL. A tote with an
18-digit SSCC code is labelled GS1 (AI 00) with a Digital Link QR; any other
container code is a plain Code 128.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

from tracker.formatting import format_quantity, format_time
from tracker.labels import Gs1Error, Label, Symbology
from tracker.labels.response import labels_response
from tracker.selectors import current_site
from wip.models import WorkOrder

MAX_LABELS = 500


def _keys(request, name: str) -> list[str]:
    return [k.strip() for k in request.GET.getlist(name) if k.strip()][:MAX_LABELS]


def traveler_label(work_order: WorkOrder, *, url: str | None = None) -> Label:
    lines = [
        f"{work_order.item.sku} × {format_quantity(work_order.quantity, work_order.item)} {work_order.item.unit}",
        f"Routing {work_order.routing.code}",
    ]
    if work_order.due_at:
        lines.append(f"Due {format_time(work_order.due_at, zone=work_order.site)}")
    return Label(
        title=f"Traveler {work_order.number}",
        text=work_order.number,
        symbology=Symbology.CODE128,
        qr=url,
        lines=tuple(lines),
    )


def tote_label(code: str, *, symbology: Symbology) -> Label:
    if len(code) == 18 and code.isdigit():
        try:
            base = getattr(settings, "GS1_DIGITAL_LINK_BASE", "https://id.gs1.org")
            return Label.for_gs1(
                title=f"Tote {code}", pairs=[("00", code)], symbology=symbology, lines=("SSCC",), digital_link_base=base
            )
        except Gs1Error:
            pass  # not a valid SSCC (check digit): print the code as it is
    return Label(title=f"Tote {code}", text=code, symbology=Symbology.CODE128, lines=("Container",))


def _site(request):
    site = current_site(request)
    if site is None:
        raise Http404("You have no site.")
    return site


@login_required
@require_GET
@permission_required("wip.view_workorder", raise_exception=True)
def traveler_labels(request):
    site = _site(request)
    numbers = _keys(request, "number")
    found = {
        wo.number: wo
        for wo in WorkOrder.objects.restrict(request.user, "view")
        .filter(site=site, number__in=numbers)
        .select_related("item", "routing", "site")
    }
    labels, errors = [], []
    for number in numbers:
        if number not in found:
            errors.append(f"No work order {number!r} at {site.code}.")
            continue
        url = request.build_absolute_uri(reverse("wip:work_order", args=[number]))
        labels.append(traveler_label(found[number], url=url))
    return labels_response(request, labels, filename="travelers", title="Work order travelers", errors=errors)


@login_required
@require_GET
@permission_required("wip.view_workorder", raise_exception=True)
def tote_labels(request):
    _site(request)
    symbology = Symbology.GS1_DATAMATRIX if request.GET.get("symbology") == "datamatrix" else Symbology.GS1_128
    labels = [tote_label(code, symbology=symbology) for code in _keys(request, "code")]
    return labels_response(request, labels, filename="totes", title="Tote labels")
