"""Page forms: natural keys typed or scanned; a scan fills item, lot, serial and expiry,
and a location label fills the form's location fields in order (transfer: from, then to).

Forms only resolve keys among objects the user may use at the current site;
the stock rules live in the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import QueryDict

from inventory.models import Item, Lot
from inventory.scanning import parse_scan
from tracker.models import Location, Site


class _ScanForm(forms.Form):
    #: The location fields a scanned location label fills, first empty one first
    #: (static/inventory/scan.js reads the same list from the form's data attribute).
    scan_location_fields: tuple[str, ...] = ("location",)

    scan = forms.CharField(
        required=False,
        label="Scan (barcode)",
        widget=forms.TextInput(attrs={"autofocus": True, "data-scan": "1", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, user: Any, site: Site, **kwargs: Any) -> None:
        self.user, self.site = user, site
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        # Form.clean() returns cleaned_data; the stubs type it Optional for overrides that return nothing.
        super().clean()
        return self.cleaned_data

    def _apply_scan(self, data: dict[str, Any]) -> None:
        """Fill empty fields from the scan, server-side (works without JavaScript)."""
        code = data.get("scan")
        if not code:
            return
        parsed = parse_scan(code, user=self.user, site=self.site)
        if parsed.get("error"):
            self.add_error("scan", parsed["error"])
            return
        filled = data.copy()
        if parsed["location"]:
            empty = next((f for f in self.scan_location_fields if not (data.get(f) or "").strip()), None)
            if empty is None:
                self.add_error("scan", f"Location {parsed['location']} scanned, but the location fields are filled.")
            else:
                data[empty] = parsed["location"]
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
        self._show_filled(data, before=filled)

    def _show_filled(self, data: dict[str, Any], *, before: dict[str, Any]) -> None:
        """Without JavaScript each scan is a submit: a form shown again (another field
        still missing) keeps what the scan filled and an empty scan field for the next one."""
        # A bound form's data is a QueryDict (copy() makes it mutable); tests may pass a plain dict.
        shown = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
        for name, value in data.items():
            if name in self.fields and value and value != before.get(name):
                shown[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        shown["scan"] = ""
        self.data = shown

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
            if code
            else None
        )
        if location is None:
            self.add_error(
                field, f"No location {code!r} at {self.site.name}." if code else "Give the location or scan its label."
            )
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
    location = forms.CharField(required=False, label="Location")
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
    scan_location_fields = ("source", "destination")

    item = forms.CharField(required=False, label="Item (SKU)")
    quantity = forms.DecimalField(max_digits=18, decimal_places=4)
    source = forms.CharField(required=False, label="From")
    destination = forms.CharField(required=False, label="To")
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
    location = forms.CharField(required=False)
    lot = forms.CharField(required=False)
    counted = forms.DecimalField(max_digits=18, decimal_places=4, min_value=0)

    def clean(self):
        data = super().clean()
        self._apply_scan(data)
        data["item"] = self._item(data)
        data["location"] = self._location(data, "location")
        data["lot"] = self._lot(data["item"], data)
        return data
