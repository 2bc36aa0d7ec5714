"""Handheld barcode-scan batches: our envelope around raw GS1 / AIM scan strings.

There is no vendor standard for the envelope; this is Shopfloor's own::

    {"device_id": "HH-TC52-0042", "upload_id": "0193f1c4-...", "sent_at": "...Z",
     "separator_chars": ["|"],                      # optional, see below
     "scans": [{"seq": 311, "scanned_at": "2025-11-18T09:48:02.114Z",
                "action": "receive", "source": "keyboard_wedge", "raw": "]C1000950..."}]}

``scans[].raw`` and ``scans[].scanned_at`` are required; ``upload_id`` is the
upload key and ``device_id`` the scanner reference.  The content of ``raw`` follows:

* GS1 General Specifications, Application Identifiers (parsed with ``biip``,
  never by hand): (00) SSCC, (01) GTIN, (10) lot, (17) expiry, (21) serial,
  (30)/(37) count, (414) location GLN, (254) GLN extension, (8003) GRAI, (8004)
  GIAI.  Variable-length fields are terminated by FNC1, sent as ASCII 29 (GS).
* AIM / ISO/IEC 15424 symbology identifiers (``]C1`` GS1-128, ``]C0`` Code 128,
  ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR, ``]Q1`` plain QR, ``]e0`` GS1 DataBar,
  ``]E0`` EAN/UPC ...): a GS1 symbology is parsed as a GS1 message, a plain one
  (e.g. a work-order traveler in ``]C0``) is kept raw with no GS1 data.
* GS1 Digital Link URIs (``https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}?17=``),
  plain text in a QR code (``]Q1``) or without an AIM id.

Without an AIM id a string is tried as a GS1 element string, then as a bare
GTIN/SSCC; an all-digit 8/12/13/14-digit string that is a valid GTIN is read as a
GTIN.  A scanner that replaces GS by a printable character can declare it in
``separator_chars`` (passed to ``biip.ParseConfig(separator_chars=...)``).  A
*missing* separator cannot be repaired (biip reads a variable-length field
greedily): for scans without an AIM id whose last variable-length field ends in a
tail that is itself a valid element string (the keyboard-wedge trap, e.g. lot
``LOT-2611A214713`` hiding ``(21)4713``) the result carries a warning.

A raw string that is not GS1 at all is still a scan (``elements == ()``): a
work-order traveler's plain Code 128 is looked up as a work order number.  GS1
data that is wrong is a ParseError naming the scan, the AI and the reason: a
check digit that does not match (GTIN, SSCC, GLN, the GTIN-14 part of a GRAI),
an impossible date (``(17)270231``), or a GS1 symbology whose data does not parse.

Action scans (``action`` receive, issue, move, count, ship) may carry, besides
AIs for item, lot, expiry and quantity: ``location`` (the location code where it
happens; else the last location label scanned in the batch), ``to_location``
(a move's destination), ``reference`` (PO, sales order, work order) and
``quantity`` (when the label has no (30)/(37)).  What they do is decided in
``devices.pipeline.scans``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import biip
from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message

from ._common import (
    as_decimal,
    as_int,
    as_list,
    as_obj,
    as_str,
    epc_uri_from_elements,
    iso_time,
    load_json,
    opt_str,
    req,
)
from .base import ParseContext, ParseError, ParseResult, Scan

FORMAT = "gs1_scans"

_GS = "\x1d"
# Full AIM ids used in the GS1 system, then names per ISO 15424 code character.
_GS1_AIM = {
    "]C1": "GS1-128",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
    "]e0": "GS1 DataBar",
    "]e1": "GS1 Composite",
    "]e2": "GS1 Composite",
    "]J1": "GS1 DotCode",
}
_GTIN_AIM = {"]E0": "EAN-13", "]E3": "EAN-13 with add-on", "]E4": "EAN-8", "]I1": "ITF-14"}
_ISO_NAMES = {
    "A": "Code 39",
    "C": "Code 128",
    "d": "Data Matrix",
    "E": "EAN/UPC",
    "e": "GS1 DataBar",
    "F": "Codabar",
    "G": "Code 93",
    "I": "ITF",
    "J": "DotCode",
    "L": "PDF417",
    "Q": "QR Code",
    "U": "MaxiCode",
    "z": "Aztec Code",
    "X": "Other",
}
# AIs that usually follow a lot/serial and whose appearance at the end of a
# variable-length value suggests a lost group separator.
_TAIL_AIS = frozenset({"10", "11", "13", "15", "16", "17", "21", "22", "30", "37", "240", "250", "254"})


def _elements(es_list: Any) -> tuple[tuple[tuple[str, str], ...], dict[str, Any]]:
    pairs = []
    by_ai: dict[str, Any] = {}
    for es in es_list:
        pairs.append((es.ai.ai, es.value))
        by_ai.setdefault(es.ai.ai, es)
    return tuple(pairs), by_ai


def _swallowed_tail(value: str) -> str | None:
    """A suffix of ``value`` that parses as a GS1 element string, if any."""
    for i in range(1, len(value) - 1):
        if not value[i].isdigit():
            continue
        try:
            msg = GS1Message.parse(value[i:])
        except Exception:  # noqa: S112 - biip rejects most tails; any failure means "no"
            continue
        if msg.element_strings and msg.element_strings[0].ai.ai in _TAIL_AIS:
            return msg.as_hri()
    return None


def _parse_raw(raw: str, config: biip.ParseConfig) -> tuple[str | None, Any, str | None]:
    """Return (symbology name, biip element strings or None, problem or None)."""
    text = raw.strip()
    aim = None
    content = text
    if text.startswith("]") and len(text) >= 3:
        aim, content = text[:3], text[3:]
    symbology = None
    if aim is not None:
        symbology = _GS1_AIM.get(aim) or _GTIN_AIM.get(aim) or _ISO_NAMES.get(aim[1], f"AIM {aim}")
    try:
        if content[:4].lower() == "http" and (aim is None or aim[1] in "Qd"):
            res = biip.parse(content, config=config)
            if res.gs1_digital_link_uri is not None:
                return symbology or "GS1 Digital Link", res.gs1_digital_link_uri.element_strings, None
            return symbology, None, None  # an ordinary URL
        if aim in _GS1_AIM:
            res = biip.parse(aim + content, config=config)
            if res.gs1_message is not None and res.gs1_message.element_strings:
                return symbology, res.gs1_message.element_strings, None
            error = res.gs1_message_error or ""
            if "date" in error or "check digit" in error:
                # GS1 data that is wrong, not merely unreadable: it must not change stock.
                raise ParseError(f"not a valid GS1 element string: {error}")
            return symbology, None, f"not a valid GS1 element string: {error}"
        if aim in _GTIN_AIM or aim is None:
            res = biip.parse(content, config=config)
        else:
            return symbology, None, None  # a plain (non-GS1) symbology
    except ParseError:
        raise
    except Exception as exc:  # biip may raise on pathological input
        return symbology, None, f"could not be parsed: {type(exc).__name__}"
    error = res.gs1_message_error or ""
    if res.gs1_message is None and "date" in error and content[:2].isdigit():
        raise ParseError(f"not a valid GS1 element string: {error}")  # an impossible (17)/(11)... date
    is_gtin_like = content.isdigit() and len(content) in (8, 12, 13, 14)
    if res.gtin is not None and (aim is not None or is_gtin_like):
        return symbology, [_Synthetic("01", res.gtin.as_gtin_14())], None
    if res.gs1_message is not None and res.gs1_message.element_strings:
        return symbology, res.gs1_message.element_strings, None
    if res.sscc is not None:
        return symbology, [_Synthetic("00", res.sscc.value)], None
    return symbology, None, None


class _AI:
    __slots__ = ("ai", "separator_required")

    def __init__(self, ai: str) -> None:
        self.ai = ai
        self.separator_required = False


class _Synthetic:
    """A stand-in for a biip element string built from a bare GTIN/SSCC."""

    __slots__ = ("ai", "date", "value")

    def __init__(self, ai: str, value: str) -> None:
        self.ai = _AI(ai)
        self.value = value
        self.date = None


_KEY_ERRORS = (("gtin_error", "GTIN"), ("sscc_error", "SSCC"), ("gln_error", "GLN"))


def _check_elements(es_list: Any) -> None:
    """Reject GS1 keys whose check digit is wrong (biip reports them, it does not refuse them)."""
    for es in es_list:
        ai = es.ai.ai
        for attr, _name in _KEY_ERRORS:
            problem = getattr(es, attr, None)
            if problem:
                raise ParseError(f"AI ({ai}): {problem}")
        if ai == "8003" and len(es.value) >= 14 and es.value[:14].isdigit():
            key = es.value[:14]
            if gs1_standard_check_digit(key[:13]) != int(key[13]):
                raise ParseError(
                    f"AI (8003): invalid GRAI check digit for {key!r}: expected {gs1_standard_check_digit(key[:13])}"
                )


def _config(doc: dict[str, Any]) -> biip.ParseConfig:
    extra = doc.get("separator_chars")
    if extra is None:
        return _DEFAULT_CONFIG
    chars = [_GS]
    for j, ch in enumerate(as_list(extra, "separator_chars")):
        if type(ch) is not str or len(ch) != 1 or ch.isalnum():
            raise ParseError(f"separator_chars[{j}]: expected one non-alphanumeric character")
        chars.append(ch)
    return biip.ParseConfig(separator_chars=tuple(chars))


_DEFAULT_CONFIG = biip.ParseConfig()


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a handheld scan batch."""
    doc = load_json(body)
    try:
        doc = as_obj(doc, "document")
        scanner_ref = opt_str(doc.get("device_id"), "device_id") or ""
        upload_id = opt_str(doc.get("upload_id"), "upload_id")
        if doc.get("sent_at") is not None:
            iso_time(doc["sent_at"], "sent_at")
        config = _config(doc)
        scans = as_list(req(doc, "scans"), "scans")
    except ParseError as exc:
        raise exc.at("envelope") from None
    result = ParseResult(format=FORMAT, upload_key=upload_id or None)
    for i, scan in enumerate(scans):
        try:
            scan = as_obj(scan, "scan")
            raw = as_str(req(scan, "raw"), "raw")
            scanned_at = iso_time(req(scan, "scanned_at"), "scanned_at")
            action = opt_str(scan.get("action"), "action")
            seq = scan.get("seq")
            if seq is not None:
                seq = as_int(seq, "seq", minimum=0)
            location = opt_str(scan.get("location"), "location")
            to_location = opt_str(scan.get("to_location"), "to_location")
            reference = opt_str(scan.get("reference"), "reference")
            typed = scan.get("quantity")
            typed = None if typed is None else as_decimal(typed, "quantity")
            if typed is not None and typed <= 0:
                raise ParseError(f"quantity: {typed} must be positive")
        except ParseError as exc:
            raise exc.at(f"scans[{i}]") from None
        where = f"scans[{i}]" + ("" if seq is None else f" (seq {seq})")
        try:
            symbology, es_list, problem = _parse_raw(raw, config)
            _check_elements(es_list or ())
        except ParseError as exc:
            raise exc.at(where) from None
        if problem:
            result.warnings.append(f"{where}: {problem}")
        pairs, by_ai = _elements(es_list or ())
        values = {ai: es.value for ai, es in by_ai.items()}
        if es_list and not raw.lstrip().startswith("]"):
            last = es_list[-1]
            if last.ai.separator_required:
                tail = _swallowed_tail(last.value)
                if tail is not None:
                    result.warnings.append(
                        f"{where}: no AIM symbology identifier and AI ({last.ai.ai}) value {last.value!r} "
                        f"ends in {tail}: probably a lost group separator (keyboard wedge?); "
                        "configure the scanner to send GS or a separator_chars substitute"
                    )
        qty = values.get("30", values.get("37"))
        expiry = by_ai["17"].date if "17" in by_ai else None
        result.scans.append(
            Scan(
                raw=raw,
                scanned_at=scanned_at,
                scanner_ref=scanner_ref,
                symbology=symbology,
                gtin=values.get("01"),
                lot=values.get("10"),
                serial=values.get("21"),
                expiry=expiry,
                sscc=values.get("00"),
                gln=values.get("414"),
                grai=values.get("8003"),
                quantity=Decimal(qty) if qty is not None and qty.isdigit() else None,
                elements=pairs,
                location_ext=values.get("254"),
                tag_id=epc_uri_from_elements(values) if values else None,
                action=action,
                seq=seq,
                location=location or None,
                to_location=to_location or None,
                reference=reference or None,
                typed_quantity=typed,
            )
        )
    return result
