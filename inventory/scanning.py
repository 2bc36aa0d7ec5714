"""Barcode scans to form values: GS1 element strings and Digital Link URIs (parsed
with biip), and plain symbols carrying a natural key.

What Shopfloor's labels carry (``inventory/labels/views.py``, ``wip/labels/views.py``):

- item, lot, serial unit: (01) GTIN, (17) expiry, (10) lot, (21) serial;
- location: (414) its own GLN, or (414) the site's GLN + (254) the location code;
- tote: (00) SSCC;
- each GS1 label's QR: the same data as a GS1 Digital Link URI (any host);
- anything without a GS1 key (no GTIN, no GLN, a work order traveler, a tote
  code): a plain Code 128 of its natural key; a traveler's QR is its page's URL.

``decode_scan`` only reads the text (no database). ``parse_scan`` also resolves
what the scan names among the objects the user may see: the item by GTIN or SKU,
the location by GLN (+ extension) or code, at the given site. A location of a
site the user does not hold is not found, like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from inventory.models import Item, Lot, SerialUnit
from tracker.models import Location, Site

#: AIM / ISO/IEC 15424 symbology identifiers whose data is a GS1 element string.
GS1_AIM_IDS = frozenset({"]C1", "]d2", "]d5", "]Q3", "]Q5", "]e0", "]e1", "]e2", "]J1"})
#: Identifiers of the plain (non-GS1) modes of the symbologies our labels use: their
#: data is a natural key, even when it happens to look like an element string.
PLAIN_AIM_IDS = frozenset({"]C0", "]C2", "]C4", "]d1", "]d3", "]d4", "]d6", "]Q0", "]Q1", "]Q2", "]Q4", "]Q6"})
_AIM_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_BARE_GTIN_LENGTHS = (8, 12, 13, 14)


class ScanError(ValueError):
    """The scan cannot be read (empty, or GS1 data that does not parse)."""


@dataclass(frozen=True)
class DecodedScan:
    """A scan as read, before any lookup.

    ``text``: the symbol's data without its AIM identifier (what a plain label
    encodes: a SKU, location code, work order number...). ``elements``: GS1
    (AI, value) pairs, empty for a plain symbol. ``url``: a URL that is not a
    GS1 Digital Link (a traveler's QR).
    """

    text: str
    aim: str | None = None
    elements: tuple[tuple[str, str], ...] = ()
    expiry: dt.date | None = None
    url: str | None = None

    def value(self, ai: str) -> str | None:
        return next((v for a, v in self.elements if a == ai), None)

    @property
    def is_gs1(self) -> bool:
        return bool(self.elements)


def _gs1_elements(content: str, aim: str | None) -> tuple[tuple[tuple[str, str], ...], dt.date | None]:
    """Element strings of a GS1 scan, or () when the text is not GS1 data."""
    import biip
    from biip.gs1_messages import GS1Message

    if content.startswith("("):
        message = GS1Message.parse_hri(content)
        strings = message.element_strings
    elif content[:4].lower() == "http":
        parsed = biip.parse(content)
        if parsed.gs1_digital_link_uri is None:
            return (), None
        strings = parsed.gs1_digital_link_uri.element_strings
    else:
        # Without the identifier: biip knows only the common ones, and zxing-cpp reports
        # some GS1 DataMatrix symbols as ]d8; the data itself says whether it is GS1.
        parsed = biip.parse(content)
        if (
            parsed.gtin is not None
            and content.isdigit()
            and len(content) in _BARE_GTIN_LENGTHS
            and aim not in GS1_AIM_IDS
        ):
            # An EAN/UPC or a typed GTIN: (400)... would be a misreading of 400638...
            return (("01", parsed.gtin.as_gtin_14()),), None
        if parsed.gs1_message is not None and parsed.gs1_message.element_strings:
            strings = parsed.gs1_message.element_strings
        elif aim in GS1_AIM_IDS:
            raise ScanError(f"Not valid GS1 data: {parsed.gs1_message_error}")
        else:
            return (), None
    pairs, expiry = [], None
    for element in strings:
        ai = element.ai.ai
        value = element.gtin.as_gtin_14() if ai in ("01", "02") and element.gtin is not None else element.value
        pairs.append((ai, value))
        if ai == "17" and element.date is not None:
            expiry = element.date
    return tuple(pairs), expiry


def decode_scan(text: str) -> DecodedScan:
    """Read a scanner's string: with or without AIM identifier, FNC1 as GS (``\\x1d``),
    the human-readable ``(01)...(10)...`` form, a GS1 Digital Link URI, or plain text.

    A plain symbology (``]C0`` Code 128, ``]d1`` Data Matrix, ``]Q1`` QR) is never
    read as GS1: its text is a natural key. Raises ``ScanError`` for an empty scan or a GS1
    symbol whose data does not parse.
    """
    text = (text or "").strip()
    aim = text[:3] if _AIM_ID.match(text) else None
    content = text[3:] if aim else text
    if not content:
        raise ScanError("Empty scan.")
    is_url = content[:8].lower() == "https://" or content[:7].lower() == "http://"
    gs1_capable = aim not in PLAIN_AIM_IDS or is_url
    try:
        elements, expiry = _gs1_elements(content, aim) if gs1_capable else ((), None)
    except ScanError:
        raise
    except Exception as exc:  # biip raises ParseError subclasses for anything unreadable
        if aim in GS1_AIM_IDS or content.startswith("("):
            raise ScanError(f"Not a GS1 barcode: {exc}") from exc
        elements, expiry = (), None
    return DecodedScan(
        text=content, aim=aim, elements=elements, expiry=expiry, url=content if is_url and not elements else None
    )


def resolve_location(
    *, user: Any, site: Site | None, gln: str | None = None, extension: str | None = None, code: str | None = None
) -> Location | None:
    """The real location a scan names, among those ``user`` may view (at ``site`` when given).

    ``code``: a plain label's location code. ``gln`` alone: a location holding
    that GLN. ``gln`` + ``extension``: the location whose code is the extension
    at a site with that GLN (or at the site of the location holding it).
    """
    locations = Location.objects.restrict(user, "view").real()
    if site is not None:
        locations = locations.filter(site=site)
    if code:
        locations = locations.filter(code=code)
    elif gln and extension and extension != "0":
        holders = Location.objects.filter(gln=gln).values("site_id")
        locations = locations.filter(code=extension).filter(Q(site__gln=gln) | Q(site_id__in=holders))
    elif gln:
        locations = locations.filter(gln=gln)
    else:
        return None
    return locations.order_by("pk").first()


def _empty() -> dict[str, Any]:
    return {
        "gtin": None,
        "lot": None,
        "serial": None,
        "expiry_date": None,
        "sku": None,
        "location": None,
        "sscc": None,
        "text": None,
        "url": None,
    }


def _plain_key(result: dict[str, Any], *, key: str, user: Any, site: Site | None) -> None:
    """A plain label's natural key: a location code, a SKU, or a lot code / serial
    that names one visible lot / unit (their labels without a GTIN)."""
    location = resolve_location(user=user, site=site, code=key)
    if location is not None:
        result["location"] = location.code
        return
    item = Item.objects.restrict(user, "view").filter(sku=key).only("sku").first()
    if item is not None:
        result["sku"] = item.sku
        return
    lots = list(Lot.objects.restrict(user, "view").filter(code=key).select_related("item").order_by("pk")[:2])
    if len(lots) == 1:
        result.update(
            sku=lots[0].item.sku,
            lot=lots[0].code,
            expiry_date=lots[0].expiry_date.isoformat() if lots[0].expiry_date else None,
        )
        return
    units = SerialUnit.objects.restrict(user, "view").filter(serial=key)
    if site is not None:
        units = units.filter(location__site=site)
    found = list(units.select_related("item", "lot").order_by("pk")[:2])
    if len(found) == 1:
        unit = found[0]
        result.update(sku=unit.item.sku, serial=unit.serial, lot=unit.lot.code if unit.lot else None)


def parse_scan(text: str, *, user: Any, site: Site | None = None) -> dict[str, Any]:
    """The form values a scan fills: ``sku``, ``lot``, ``serial``, ``expiry_date``
    (ISO), ``location`` (code), plus ``gtin``, ``sscc``, ``text`` (the symbol's data)
    and ``url``; ``error`` when the scan is unreadable or names nothing ``user``
    may use at ``site``.
    """
    result = _empty()
    try:
        scan = decode_scan(text)
    except ScanError as exc:
        return {**result, "error": str(exc)}
    result.update(text=scan.text, url=scan.url, sscc=scan.value("00"))
    if scan.url:
        return {**result, "error": "Not an item or location barcode (a web address)."}
    if not scan.is_gs1:
        _plain_key(result, key=scan.text, user=user, site=site)
        if not (result["location"] or result["sku"]):
            return {
                **result,
                "error": f"No GS1 data in the scan, and no location, item, lot or serial {scan.text!r} here.",
            }
        return result
    gtin = scan.value("01") or scan.value("02")
    result.update(
        gtin=gtin,
        lot=scan.value("10"),
        serial=scan.value("21"),
        expiry_date=scan.expiry.isoformat() if scan.expiry else None,
    )
    if gtin:
        item = Item.objects.restrict(user, "view").filter(gtin=gtin).only("sku").first()
        result["sku"] = item.sku if item else None
    gln = scan.value("414")
    if gln:
        extension = scan.value("254")
        location = resolve_location(user=user, site=site, gln=gln, extension=extension)
        if location is None:
            named = f"GLN {gln}" + (f" extension {extension}" if extension else "")
            return {**result, "error": f"No location with {named} here."}
        result["location"] = location.code
    if not any(result[k] for k in ("gtin", "lot", "serial", "expiry_date", "location", "sscc")):
        return {**result, "error": "No GS1 data found in the scan."}
    return result
