"""Scanning labels into the transfer page in a real browser: a scanner types the label's
data and Enter into the scan field; static/inventory/scan.js asks the server what it names
and fills From (first location), To (second) and the item."""

from __future__ import annotations

import re

import pytest
import zxingcpp

from tests.browser._prepare import SITE_GLN

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _scanned(label) -> str:
    """What a scanner sending AIM symbology identifiers types for the label's barcode."""
    from tracker.labels.symbols import main_symbol
    from tracker.tests.test_labels import raster

    result = zxingcpp.read_barcode(raster(main_symbol(label)), text_mode=zxingcpp.TextMode.Plain)
    return result.symbology_identifier + result.text


def _location_label(code: str, name: str, kind: str):
    """The label the location label page prints for a demo location (same function, unsaved rows)."""
    from inventory.labels.views import location_label
    from tracker.labels import Symbology
    from tracker.models import Location, Site

    site = Site(code="demo-plant", name="Demo Plant", gln=SITE_GLN)
    return location_label(Location(site=site, code=code, name=name, kind=kind), symbology=Symbology.GS1_128, errors=[])


def _scan(page, text: str) -> None:
    field = page.locator("input[data-scan]")
    field.click()
    field.press_sequentially(text)
    field.press("Enter")


def test_transfer_page_fills_from_to_and_item_from_scans(page_for, artifacts):
    from inventory.labels.views import item_label
    from inventory.models import Item
    from tracker.labels import Symbology

    stores = _scanned(_location_label("DP-STORES", "Stores", "zone"))
    rework = _scanned(_location_label("DP-REWORK", "Rework bench", "zone"))
    assert stores == f"]C1414{SITE_GLN}254DP-STORES"
    caster = _scanned(item_label(Item(sku="DP-CASTER", name="Caster 100 mm"), symbology=Symbology.GS1_128, errors=[]))
    assert caster == "]C0DP-CASTER"  # the demo items have no GTIN: a plain Code 128 of the SKU

    page = page_for("clerk")
    page.goto("/inventory/transfer/")
    status = page.locator("[data-scan-status]")
    _scan(page, stores)
    expect(page.locator("[name=source]")).to_have_value("DP-STORES")
    expect(page.locator("input[data-scan]")).to_have_value("")  # ready for the next scan
    assert page.input_value("[name=destination]") == ""
    _scan(page, rework)
    expect(page.locator("[name=destination]")).to_have_value("DP-REWORK")
    _scan(page, caster)
    expect(page.locator("[name=item]")).to_have_value("DP-CASTER")
    expect(status).to_contain_text("DP-CASTER")

    _scan(page, f"]C1414{SITE_GLN}254NO-SUCH-BIN")  # unknown here: said, nothing filled or overwritten
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(status).to_contain_text("No location")
    assert page.input_value("[name=source]") == "DP-STORES"
    page.screenshot(path=str(artifacts / "transfer-scanned.png"), full_page=True)

    page.fill("[name=quantity]", "5")
    page.fill("input[data-scan]", "")
    page.get_by_role("button", name="Transfer").click()
    page.locator(".messages", has_text="Transfer booked").wait_for()
