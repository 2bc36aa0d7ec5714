"""GS1 barcode scans (GS1-128 / DataMatrix / plain GTIN) to form values, parsed with biip."""

from __future__ import annotations

from typing import Any

from inventory.models import Item


def parse_scan(text: str) -> dict[str, Any]:
    """GTIN, lot, serial, expiry and the matching item's SKU from a scan; ``error`` if unreadable.

    Accepts the raw scanner string (with or without symbology identifier, FNC1
    as GS ``\\x1d``) or the human-readable form ``(01)...(10)...``.
    """
    text = (text or "").strip()
    result: dict[str, Any] = {"gtin": None, "lot": None, "serial": None, "expiry_date": None, "sku": None}
    if not text:
        return {**result, "error": "Empty scan."}
    try:
        if text.startswith("("):
            from biip.gs1_messages import GS1Message

            message, gtin = GS1Message.parse_hri(text), None
        else:
            import biip

            parsed = biip.parse(text)
            message, gtin = parsed.gs1_message, parsed.gtin
    except Exception as exc:  # biip raises ParseError subclasses for anything unreadable
        return {**result, "error": f"Not a GS1 barcode: {exc}"}
    if message is not None:
        for element in message.element_strings:
            ai = element.ai.ai
            if ai in ("01", "02") and element.gtin is not None:
                result["gtin"] = element.gtin.as_gtin_14()
            elif ai == "10":
                result["lot"] = element.value
            elif ai == "21":
                result["serial"] = element.value
            elif ai == "17" and element.date is not None:
                result["expiry_date"] = element.date.isoformat()
    if result["gtin"] is None and gtin is not None:
        result["gtin"] = gtin.as_gtin_14()
    if result["gtin"] is None and not any(result[k] for k in ("lot", "serial", "expiry_date")):
        return {**result, "error": "No GS1 data found in the scan."}
    if result["gtin"]:
        item = Item.objects.filter(gtin=result["gtin"]).only("sku").first()
        result["sku"] = item.sku if item else None
    return result
