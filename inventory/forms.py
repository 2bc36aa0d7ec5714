"""Page forms: natural keys typed or scanned; a GS1 scan fills GTIN/item, lot, serial and expiry.

Forms only resolve keys among objects the user may use at the current site;
the stock rules live in the services.
"""

from __future__ import annotations

from typing import Any

from django import forms

from inventory.models import Item, Lot
from inventory.scanning import parse_scan
from tracker.models import Location, Site


class _ScanForm(forms.Form):
    scan = forms.CharField(required=False, label="Scan (GS1 barcode)",
                           widget=forms.TextInput(attrs={"autofocus": True, "data-scan": "1", "autocomplete": "off"}))

    def __init__(self, *args: Any, user: Any, site: Site, **kwargs: Any) -> None:
        self.user, self.site = user, site
        super().__init__(*args, **kwargs)

    def _apply_scan(self, data: dict[str, Any]) -> None:
        """Fill empty fields from the scan, server-side (works without JavaScript)."""
        code = data.get("scan")
        if not code:
            return
        parsed = parse_scan(code)
        if parsed.get("error"):
            self.add_error("scan", parsed["error"])
            return
        if not data.get("item"):
            if parsed["gtin"] and not parsed["sku"]:
                self.add_error("scan", f"No item has GTIN {parsed['gtin']}.")
            data["item"] = parsed["sku"] or ""
        for field in ("lot", "serial", "expiry_date"):
            if field in self.fields and not data.get(field) and parsed.get(field):
                value = parsed[field]
                if field == "expiry_date":
                    value = forms.DateField().clean(value)
                data[field] = value

    def _item(self, data: dict[str, Any]) -> Item | None:
        sku = (data.get("item") or "").strip()
        item = Item.objects.restrict(self.user, "view").filter(sku=sku).first() if sku else None
        if item is None:
            self.add_error("item", f"Unknown SKU {sku!r}." if sku else "Give the item (SKU) or scan it.")
        return item

    def _location(self, data: dict[str, Any], field: str) -> Location | None:
        code = (data.get(field) or "").strip()
        location = (
            Location.objects.restrict(self.user, "view").filter(code=code, site=self.site, is_virtual=False).first()
            if code else None
        )
        if location is None:
            self.add_error(field, f"No location {code!r} at {self.site.name}.")
        return location

    def _lot(self, item: Item | None, data: dict[str, Any]) -> Lot | None:
        code = (data.get("lot") or "").strip()
        if not code or item is None:
            return None
        lot = Lot.objects.restrict(self.user, "view").filter(item=item, code=code).first()
        if lot is None:
            self.add_error("lot", f"No lot {code!r} of {item.sku}.")
        return lot


class ReceiveForm(_ScanForm):
    item = forms.CharField(required=False, label="Item (SKU)")
    quantity = forms.DecimalField(max_digits=18, decimal_places=4)
    location = forms.CharField(label="Location")
    lot = forms.CharField(required=False, label="Lot")
    serial = forms.CharField(required=False, label="Serial(s), space separated")
    expiry_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(required=False, label="PO number")
    supplier = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        self._apply_scan(data)
        data["item"] = self._item(data)
        data["location"] = self._location(data, "location")
        return data


class TransferForm(_ScanForm):
    item = forms.CharField(required=False, label="Item (SKU)")
    quantity = forms.DecimalField(max_digits=18, decimal_places=4)
    source = forms.CharField(label="From")
    destination = forms.CharField(label="To")
    lot = forms.CharField(required=False)
    serial = forms.CharField(required=False, label="Serial(s), space separated")

    def clean(self):
        data = super().clean()
        self._apply_scan(data)
        data["item"] = self._item(data)
        data["source"] = self._location(data, "source")
        data["destination"] = self._location(data, "destination")
        data["lot"] = self._lot(data["item"], data)
        return data


class CountForm(_ScanForm):
    item = forms.CharField(required=False, label="Item (SKU)")
    location = forms.CharField()
    lot = forms.CharField(required=False)
    counted = forms.DecimalField(max_digits=18, decimal_places=4, min_value=0)

    def clean(self):
        data = super().clean()
        self._apply_scan(data)
        data["item"] = self._item(data)
        data["location"] = self._location(data, "location")
        data["lot"] = self._lot(data["item"], data)
        return data
