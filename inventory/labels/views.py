"""Label pages for items, lots, serial units and locations (preview, PDF sheet, ZPL).

Keys come as repeated query parameters (``?sku=A&sku=B``, ``?lot=SKU/LOT``,
``?serial=SKU/SERIAL``, ``?code=LOC``) and are looked up through the user's
restricted querysets: what the user may not see is reported as not found.
GS1 AIs: 01 GTIN, 10 lot, 17 expiry, 21 serial; 414 + 254 for a location with
a GLN (its own, else the site's GLN with the location code as extension).
Items without a GTIN and locations without any GLN get a plain Code 128 of
their natural key, which the receive/transfer forms accept as typed text.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.views.decorators.http import require_GET

from inventory.models import Item, Lot, SerialUnit
from tracker.labels import Gs1Error, Label, Symbology
from tracker.labels.response import labels_response
from tracker.models import Location
from tracker.selectors import current_site

MAX_LABELS = 500


def _symbology(request) -> Symbology:
    return Symbology.GS1_DATAMATRIX if request.GET.get("symbology") == "datamatrix" else Symbology.GS1_128


def _dl_base() -> str:
    return getattr(settings, "GS1_DIGITAL_LINK_BASE", "https://id.gs1.org")


def _keys(request, name: str) -> list[str]:
    return [k.strip() for k in request.GET.getlist(name) if k.strip()][:MAX_LABELS]


def _gs1_or_plain(*, title: str, pairs, plain: str, symbology: Symbology, lines, errors: list[str]) -> Label:
    if any(ai in ("01", "00", "414") and value for ai, value in pairs):
        try:
            return Label.for_gs1(
                title=title, pairs=pairs, symbology=symbology, lines=lines, digital_link_base=_dl_base()
            )
        except Gs1Error as exc:
            errors.append(f"{title}: not valid GS1 ({exc}); printed as plain Code 128.")
    return Label(title=title, text=plain, symbology=Symbology.CODE128, lines=tuple(lines))


def item_label(item: Item, *, symbology: Symbology, errors: list[str]) -> Label:
    return _gs1_or_plain(
        title=item.sku,
        pairs=[("01", item.gtin)],
        plain=item.sku,
        symbology=symbology,
        lines=(item.name, f"Unit: {item.unit}"),
        errors=errors,
    )


def lot_label(lot: Lot, *, symbology: Symbology, errors: list[str]) -> Label:
    pairs = [("01", lot.item.gtin), ("17", lot.expiry_date), ("10", lot.code)]
    lines = [f"{lot.item.sku} {lot.item.name}", f"Lot {lot.code}"]
    if lot.expiry_date:
        lines.append(f"Expiry {lot.expiry_date.isoformat()}")
    return _gs1_or_plain(
        title=f"{lot.item.sku} lot {lot.code}",
        pairs=pairs,
        plain=lot.code,
        symbology=symbology,
        lines=lines,
        errors=errors,
    )


def serial_label(unit: SerialUnit, *, symbology: Symbology, errors: list[str]) -> Label:
    lot = unit.lot
    pairs = [
        ("01", unit.item.gtin),
        ("17", lot.expiry_date if lot else None),
        ("10", lot.code if lot else None),
        ("21", unit.serial),
    ]
    lines = [f"{unit.item.sku} {unit.item.name}", f"S/N {unit.serial}"] + ([f"Lot {lot.code}"] if lot else [])
    return _gs1_or_plain(
        title=f"{unit.item.sku} S/N {unit.serial}",
        pairs=pairs,
        plain=unit.serial,
        symbology=symbology,
        lines=lines,
        errors=errors,
    )


def location_label(location: Location, *, symbology: Symbology, errors: list[str]) -> Label:
    if location.gln:
        pairs = [("414", location.gln)]
    elif location.site.gln:
        pairs = [("414", location.site.gln), ("254", location.code)]
    else:
        pairs = []
    return _gs1_or_plain(
        title=location.code,
        pairs=pairs,
        plain=location.code,
        symbology=symbology,
        lines=(location.name, f"{location.get_kind_display()} · {location.site.code}"),
        errors=errors,
    )


def _site(request):
    site = current_site(request)
    if site is None:
        raise Http404("You have no site.")
    return site


@login_required
@require_GET
@permission_required("inventory.view_item", raise_exception=True)
def item_labels(request):
    errors: list[str] = []
    skus = _keys(request, "sku")
    items = {i.sku: i for i in Item.objects.restrict(request.user, "view").filter(sku__in=skus)}
    labels = []
    for sku in skus:
        if sku not in items:
            errors.append(f"No item {sku!r}.")
            continue
        labels.append(item_label(items[sku], symbology=_symbology(request), errors=errors))
    return labels_response(request, labels, filename="items", title="Item labels", errors=errors)


def _split(key: str) -> tuple[str, str]:
    sku, _, code = key.partition("/")
    return sku, code


@login_required
@require_GET
@permission_required("inventory.view_lot", raise_exception=True)
def lot_labels(request):
    errors: list[str] = []
    labels = []
    visible = Lot.objects.restrict(request.user, "view").select_related("item")
    for key in _keys(request, "lot"):
        sku, code = _split(key)
        lot = visible.filter(item__sku=sku, code=code).first()
        if lot is None:
            errors.append(f"No lot {key!r}.")
            continue
        labels.append(lot_label(lot, symbology=_symbology(request), errors=errors))
    return labels_response(request, labels, filename="lots", title="Lot labels", errors=errors)


@login_required
@require_GET
@permission_required("inventory.view_serialunit", raise_exception=True)
def serial_labels(request):
    errors: list[str] = []
    labels = []
    visible = SerialUnit.objects.restrict(request.user, "view").select_related("item", "lot")
    for key in _keys(request, "serial"):
        sku, serial = _split(key)
        unit = visible.filter(item__sku=sku, serial=serial).first()
        if unit is None:
            errors.append(f"No serial unit {key!r}.")
            continue
        labels.append(serial_label(unit, symbology=_symbology(request), errors=errors))
    return labels_response(request, labels, filename="serials", title="Serial unit labels", errors=errors)


@login_required
@require_GET
@permission_required("tracker.view_location", raise_exception=True)
def location_labels(request):
    site = _site(request)
    errors: list[str] = []
    codes = _keys(request, "code")
    found = {
        loc.code: loc
        for loc in Location.objects.restrict(request.user, "view")
        .filter(site=site, code__in=codes)
        .select_related("site")
    }
    labels = []
    for code in codes:
        if code not in found:
            errors.append(f"No location {code!r} at {site.code}.")
            continue
        labels.append(location_label(found[code], symbology=_symbology(request), errors=errors))
    return labels_response(request, labels, filename="locations", title="Location labels", errors=errors)
