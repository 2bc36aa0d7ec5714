"""Vocabularies and identifier forms shared by EPCIS capture and query.

Business steps and dispositions (CBV 2.0 bare words, as the JSON-LD binding
writes them) for each kind of Shopfloor change, and the GS1 identifiers of
Shopfloor's objects in both directions:

* serial unit  <-> ``urn:epc:id:sgtin:CP.IR.SERIAL`` (Digital Link ``/01/GTIN/21/SERIAL``)
* lot          <-> ``urn:epc:class:lgtin:CP.IR.LOT``  (``/01/GTIN/10/LOT``)
* item         <-> ``urn:epc:idpat:sgtin:CP.IR.*``    (``/01/GTIN``)
* location     <-> ``urn:epc:id:sgln:CP.LR.EXT``      (``/414/GLN/254/EXT``): the
  location's own GLN (EXT ``0``), else the site's GLN with the location code
  as extension (the convention of ``uploads/epcis-2.0-capture.jsonld``)
* work order   <-> ``urn:epc:id:gdti:CP.LR.NUMBER`` from the site's GLN (as the
  capture example's ``transformationID``), also a ``prodorder`` bizTransaction

URNs need the length of the GS1 company prefix (configured prefixes, else
biip's table: ``devices.parsers._common.company_prefix_length``); without it
the export falls back to a GS1 Digital Link URI. Objects with no GS1 key at all
(an item without GTIN, a site without GLN) get a private ``urn:shopfloor:``
URI, which capture also accepts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import quote, unquote

from devices.parsers._common import company_prefix_length

DIGITAL_LINK = "https://id.gs1.org"
PRIVATE = "urn:shopfloor"

# ------------------------------------------------------------------ vocabularies

CBV_PREFIXES = (
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "https://ref.gs1.org/cbv/BTT-",
    "https://ref.gs1.org/cbv/ER-",
    "https://ref.gs1.org/cbv/SDT-",
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "urn:epcglobal:cbv:btt:",
    "urn:epcglobal:cbv:er:",
    "urn:epcglobal:cbv:sdt:",
    "https://gs1.org/voc/",
    "gs1:",
    "cbv:",
)


def bare(value: str | None) -> str:
    """A CBV value as a bare word, whichever form the document used."""
    if not value:
        return ""
    for prefix in CBV_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    # Older URN form of a bizStep/disposition ("Disp-in_progress" / "BizStep-receiving") already stripped above.
    return value


#: bizSteps whose ObjectEvent moves the objects out to a customer.
SHIP_STEPS = frozenset({"shipping", "retail_selling"})
#: bizSteps of an ObjectEvent that bring new objects into stock (ADD, or OBSERVE of objects never seen).
RECEIVE_STEPS = frozenset({"receiving", "accepting", "unloading"})
#: bizSteps of an ADD that create objects in production rather than receive them.
PRODUCE_STEPS = frozenset({"commissioning", "creating_class_instance", "assembling", "encoding"})
#: bizSteps of a DELETE (or any action) that take objects out of stock as scrap.
SCRAP_STEPS = frozenset({"decommissioning", "destroying", "killing"})

#: (bizStep, disposition) of each StockMove kind on export.
MOVE_VOCABULARY: dict[str, tuple[str, str]] = {
    "receipt": ("receiving", "in_progress"),
    "ship": ("shipping", "in_transit"),
    "transfer": ("storing", "in_progress"),
    "issue": ("assembling", "in_progress"),
    "produce": ("commissioning", "active"),
    "scrap": ("destroying", "destroyed"),
    "adjust": ("stock_taking", "active"),
    "count": ("cycle_counting", "active"),
}
#: Transfer legs through a site's in-transit location.
TRANSFER_OUT = ("departing", "in_transit")
TRANSFER_IN = ("arriving", "in_progress")
#: WIP step transitions on export.
RUN_VOCABULARY: dict[str, tuple[str, str]] = {
    "queued": ("arriving", "in_progress"),
    "started": ("assembling", "in_progress"),
    "finished": ("inspecting", "conformant"),
}

#: bizTransaction types of Shopfloor references (a sales order has no CBV type: private one).
BTT_SALES_ORDER = f"{PRIVATE}:btt:so"
REFERENCE_BTT = {"purchase_order": "po", "work_order": "prodorder", "sales_order": BTT_SALES_ORDER}

#: UN/ECE Rec 20 codes <-> Item.unit ("pcs" is a count: no uom).
UOM_TO_UNIT = {
    "KGM": "kg",
    "GRM": "g",
    "TNE": "t",
    "MTR": "m",
    "MTK": "m2",
    "LTR": "l",
    "MLT": "ml",
    "H87": "pcs",
    "C62": "pcs",
    "EA": "pcs",
    "XBX": "box",
}
UNIT_TO_UOM = {"kg": "KGM", "g": "GRM", "t": "TNE", "m": "MTR", "m2": "MTK", "l": "LTR", "ml": "MLT", "box": "XBX"}


# ------------------------------------------------------------------ identifiers

_SGTIN = re.compile(r"^urn:epc:id:sgtin:(\d+)\.(\d+)\.(.+)$")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d+)\.(\d+)\.(.+)$")
_IDPAT = re.compile(r"^urn:epc:idpat:sgtin:(\d+)\.(\d+)\.\*$")
_SGLN = re.compile(r"^urn:epc:id:sgln:(\d+)\.(\d*)\.(.+)$")
_GDTI = re.compile(r"^urn:epc:id:gdti:(\d+)\.(\d*)\.(.+)$")
_DL = re.compile(r"^https?://[^/]+(/.*)$")


def check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin_of(company_prefix: str, item_reference: str) -> str | None:
    """GTIN-14 of an SGTIN/LGTIN's company prefix and item reference (indicator first)."""
    if len(company_prefix) + len(item_reference) != 13 or not item_reference:
        return None
    body = item_reference[0] + company_prefix + item_reference[1:]
    return body + check_digit(body)


def gln_of(company_prefix: str, location_reference: str) -> str | None:
    if len(company_prefix) + len(location_reference) != 12:
        return None
    body = company_prefix + location_reference
    return body + check_digit(body)


def _dl_pairs(uri: str) -> dict[str, str] | None:
    match = _DL.match(uri)
    if not match:
        return None
    parts = [unquote(p) for p in match.group(1).split("?")[0].strip("/").split("/")]
    if len(parts) < 2 or len(parts) % 2:
        return None
    return dict(zip(parts[::2], parts[1::2], strict=True))


def _private(kind: str, *parts: str) -> str:
    return ":".join([PRIVATE, kind, *(quote(p, safe="") for p in parts)])


def _private_parts(uri: str, kind: str) -> list[str] | None:
    prefix = f"{PRIVATE}:{kind}:"
    if not uri.startswith(prefix):
        return None
    return [unquote(p) for p in uri[len(prefix) :].split(":")]


class ObjectRef:
    """What an EPC or epcClass URI names: (kind, gtin or sku, serial/lot).

    ``kind``: ``serial`` (an instance), ``lot`` (a class with a lot), ``item``
    (a class: any instance of the item), ``container`` (SSCC, GRAI), ``asset``
    (GIAI) or ``other``; ``gtin`` is GTIN-14 or empty when ``sku`` names the item.
    """

    __slots__ = ("code", "gtin", "kind", "sku", "uri", "value")

    def __init__(self, uri: str, kind: str, *, gtin: str = "", sku: str = "", value: str = "") -> None:
        self.uri, self.kind, self.gtin, self.sku, self.value = uri, kind, gtin, sku, value
        self.code = uri

    def __repr__(self) -> str:
        return f"ObjectRef({self.kind}, {self.gtin or self.sku}, {self.value!r})"

    @property
    def item_key(self) -> tuple[str, str]:
        return ("gtin", self.gtin) if self.gtin else ("sku", self.sku)


def parse_object(uri: str) -> ObjectRef:
    """An EPC / epcClass URI (EPC URN, GS1 Digital Link or private) as an ObjectRef."""
    if m := _SGTIN.match(uri):
        gtin = gtin_of(m.group(1), m.group(2))
        if gtin:
            return ObjectRef(uri, "serial", gtin=gtin, value=unquote(m.group(3)))
    if m := _LGTIN.match(uri):
        gtin = gtin_of(m.group(1), m.group(2))
        if gtin:
            return ObjectRef(uri, "lot", gtin=gtin, value=unquote(m.group(3)))
    if m := _IDPAT.match(uri):
        gtin = gtin_of(m.group(1), m.group(2))
        if gtin:
            return ObjectRef(uri, "item", gtin=gtin)
    if uri.startswith(("urn:epc:id:sscc:", "urn:epc:id:grai:")):
        return ObjectRef(uri, "container")
    if uri.startswith("urn:epc:id:giai:"):
        return ObjectRef(uri, "asset")
    pairs = _dl_pairs(uri)
    if pairs:
        gtin = pairs.get("01", "").zfill(14) if pairs.get("01") else ""
        if gtin and "21" in pairs:
            return ObjectRef(uri, "serial", gtin=gtin, value=pairs["21"])
        if gtin and "10" in pairs:
            return ObjectRef(uri, "lot", gtin=gtin, value=pairs["10"])
        if gtin:
            return ObjectRef(uri, "item", gtin=gtin)
        if "00" in pairs or "8003" in pairs:
            ref = ObjectRef(uri, "container")
            ref.code = sscc_uri(pairs["00"]) if "00" in pairs else uri
            return ref
    for kind in ("serial", "lot"):
        parts = _private_parts(uri, kind)
        if parts and len(parts) == 2:
            return ObjectRef(uri, kind, sku=parts[0], value=parts[1])
    parts = _private_parts(uri, "item")
    if parts and len(parts) == 1:
        return ObjectRef(uri, "item", sku=parts[0])
    return ObjectRef(uri, "other")


_EPC_URN = re.compile(r"^urn:epc:(?:id|class|idpat):([a-z0-9]+):(.+)$")
_KEY_AI = {"sscc": "00", "grai": "8003", "giai": "8004", "gsrn": "8018", "gdti": "253", "pgln": "417", "sgln": "414"}
_KIND_OF_AI = {
    "00": "container",
    "8003": "container",
    "8004": "asset",
    "8018": "other",
    "253": "document",
    "417": "party",
    "414": "location",
}


def _gs1_key(scheme: str, parts: list[str]) -> str | None:
    """The GS1 key (digits, check digit included) of an EPC URN's dotted parts, or None."""
    digits = "".join(parts[:2])
    if scheme == "sscc" and len(parts) == 2 and len(digits) == 17 and digits.isdigit():
        body = parts[1][0] + parts[0] + parts[1][1:]
        return body + check_digit(body)
    if scheme in ("grai", "gdti") and len(parts) == 3 and len(digits) == 12 and digits.isdigit():
        body = ("0" if scheme == "grai" else "") + digits
        return body + check_digit(body) + unquote(parts[2])
    if scheme in ("sgln", "pgln") and len(parts) >= 2 and len(digits) == 12 and digits.isdigit():
        return digits + check_digit(digits)
    if scheme in ("giai", "gsrn") and len(parts) == 2 and parts[0].isdigit():
        if scheme == "gsrn":
            return digits + check_digit(digits) if len(digits) == 17 and digits.isdigit() else None
        return parts[0] + unquote(parts[1])
    return None


def identifier_key(uri: str) -> tuple[str, str]:
    """(kind, canonical key) of any EPCIS identifier, the same whichever form names it
    (EPC URN, GS1 Digital Link on any host, Shopfloor's private form), so an identifier
    kept unresolved is found again when its master data arrives.

    The key is the Digital Link path of the GS1 keys (``01/GTIN/21/SERIAL``,
    ``01/GTIN/10/LOT``, ``01/GTIN``, ``00/SSCC``, ``414/GLN/254/EXT``, ``8003/GRAI``,
    ``8004/GIAI``...); kinds: ``serial``, ``lot``, ``item``, ``container``, ``asset``,
    ``location``, ``party``, ``document`` or ``other`` (then the key is the URI)."""
    ref = parse_object(uri)
    if ref.kind in ("serial", "lot", "item"):
        head = f"01/{ref.gtin}" if ref.gtin else f"sku/{quote(ref.sku, safe='')}"
        if ref.kind == "item":
            return "item", head
        return ref.kind, f"{head}/{'21' if ref.kind == 'serial' else '10'}/{quote(ref.value, safe='')}"
    place = parse_location(uri)
    if place is not None:
        kind, gln, ext = place
        if kind == "private":
            return "location", f"location/{quote(gln, safe='')}/{quote(ext, safe='')}"
        return "location", f"414/{gln}" + ("" if ext == "0" else f"/254/{quote(ext, safe='')}")
    if m := _EPC_URN.match(uri):
        scheme = m.group(1)
        key = _gs1_key(scheme, m.group(2).split("."))
        if key is not None and scheme in _KEY_AI:
            ai = _KEY_AI[scheme]
            return _KIND_OF_AI[ai], f"{ai}/{key}"
    pairs = _dl_pairs(uri)
    if pairs:
        for ai, kind in _KIND_OF_AI.items():
            if ai in pairs:
                return kind, f"{ai}/{pairs[ai]}"
    return "other", uri


def sscc_uri(sscc: str) -> str:
    """SSCC-18 as an EPC URN when the company prefix is known (else the Digital Link)."""
    cpl = company_prefix_length(sscc[1:])
    if cpl is None:
        return f"{DIGITAL_LINK}/00/{sscc}"
    return f"urn:epc:id:sscc:{sscc[1 : 1 + cpl]}.{sscc[0]}{sscc[1 + cpl : 17]}"


def _cp_split(gtin: str) -> tuple[str, str] | None:
    """(company prefix, item reference with indicator) of a GTIN-14, if the prefix length is known."""
    cpl = company_prefix_length(gtin[1:])
    if cpl is None or not 6 <= cpl <= 12:
        return None
    return gtin[1 : 1 + cpl], gtin[0] + gtin[1 + cpl : 13]


def serial_uri(*, gtin: str, sku: str, serial: str) -> str:
    if not gtin:
        return _private("serial", sku, serial)
    split = _cp_split(gtin)
    if split is None:
        return f"{DIGITAL_LINK}/01/{gtin}/21/{quote(serial, safe='')}"
    return f"urn:epc:id:sgtin:{split[0]}.{split[1]}.{quote(serial, safe='')}"


def lot_uri(*, gtin: str, sku: str, lot: str) -> str:
    if not gtin:
        return _private("lot", sku, lot)
    split = _cp_split(gtin)
    if split is None:
        return f"{DIGITAL_LINK}/01/{gtin}/10/{quote(lot, safe='')}"
    return f"urn:epc:class:lgtin:{split[0]}.{split[1]}.{quote(lot, safe='')}"


def item_uri(*, gtin: str, sku: str) -> str:
    if not gtin:
        return _private("item", sku)
    split = _cp_split(gtin)
    if split is None:
        return f"{DIGITAL_LINK}/01/{gtin}"
    return f"urn:epc:idpat:sgtin:{split[0]}.{split[1]}.*"


def _gln_split(gln: str) -> tuple[str, str] | None:
    cpl = company_prefix_length(gln)
    if cpl is None or not 6 <= cpl <= 12:
        return None
    return gln[:cpl], gln[cpl:12]


def location_uri(*, location_gln: str, site_gln: str, site_code: str, code: str) -> str:
    """The readPoint / bizLocation id of a location (see the module docstring)."""
    gln, ext = (location_gln, "0") if location_gln else (site_gln, code)
    if not gln:
        return _private("location", site_code, code)
    split = _gln_split(gln)
    if split is None:
        return f"{DIGITAL_LINK}/414/{gln}" + ("" if ext == "0" else f"/254/{quote(ext, safe='')}")
    return f"urn:epc:id:sgln:{split[0]}.{split[1]}.{quote(ext, safe='')}"


def work_order_uri(*, site_gln: str, site_code: str, number: str) -> str:
    split = _gln_split(site_gln) if site_gln else None
    if split is None:
        return _private("workorder", site_code, number)
    return f"urn:epc:id:gdti:{split[0]}.{split[1]}.{quote(number, safe='')}"


def parse_location(uri: str) -> tuple[str, str, str] | None:
    """(kind, key, extension) of a readPoint/bizLocation id: ``("gln", GLN, EXT)`` for
    an SGLN URN or Digital Link (EXT ``"0"`` for the GLN itself), ``("private",
    site code, location code)`` for Shopfloor's own form; None otherwise."""
    if m := _SGLN.match(uri):
        gln = gln_of(m.group(1), m.group(2))
        return ("gln", gln, unquote(m.group(3))) if gln else None
    pairs = _dl_pairs(uri)
    if pairs and "414" in pairs:
        return "gln", pairs["414"], pairs.get("254", "0")
    parts = _private_parts(uri, "location")
    if parts and len(parts) == 2:
        return "private", parts[0], parts[1]
    return None


def parse_work_order(uri: str) -> str | None:
    """The work order number a transformationID / prodorder bizTransaction names."""
    if m := _GDTI.match(uri):
        return unquote(m.group(3))
    parts = _private_parts(uri, "workorder")
    if parts and len(parts) == 2:
        return parts[1]
    return None


def transaction_reference(uri: str) -> str:
    """The document number at the end of a bizTransaction URI (``urn:epcglobal:cbv:bt:GLN:PO-1`` -> ``PO-1``)."""
    if uri.startswith("urn:epcglobal:cbv:bt:"):
        return uri.rsplit(":", 1)[-1]
    if number := parse_work_order(uri):
        return number
    if uri.startswith(f"{PRIVATE}:bt:"):
        return unquote(uri.rsplit(":", 1)[-1])
    return uri.rstrip("/").rsplit("/", 1)[-1]


def transaction_uri(*, site_gln: str, site_code: str, reference_type: str, reference: str) -> str:
    if reference_type == "work_order":
        return work_order_uri(site_gln=site_gln, site_code=site_code, number=reference)
    if site_gln:
        return f"urn:epcglobal:cbv:bt:{site_gln}:{quote(reference, safe='')}"
    return _private("bt", site_code, reference)


def decimal_json(value: Decimal) -> int | float:
    """A quantity as a JSON number (the schema's ``decimal`` is a number)."""
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)
