"""Labels decode back (zxing-cpp) to the element strings they were made from; PDF and ZPL are produced."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import zxingcpp

from tracker.labels import Gs1Data, Gs1Error, Label, Symbology, label_svg, labels_pdf, labels_zpl
from tracker.labels.symbols import Matrix, main_symbol, qr_symbol

GTIN = "09506000134352"


def raster(matrix: Matrix, *, scale: int = 4, quiet: int = 10, bar_height: int = 60) -> np.ndarray:
    """Rasterise the same modules the PDF/SVG draw, with a quiet zone, for the decoder."""
    rows = np.array(matrix.rows, dtype=bool)
    if matrix.linear:
        rows = np.repeat(rows, bar_height // scale, axis=0)
    rows = np.pad(rows, quiet, constant_values=False)
    image = np.where(rows, 0, 255).astype(np.uint8)
    return np.kron(image, np.ones((scale, scale), dtype=np.uint8))


def decode(matrix: Matrix):
    result = zxingcpp.read_barcode(raster(matrix), text_mode=zxingcpp.TextMode.Plain)
    assert result is not None and result.valid
    return result


LOT_PAIRS = [("01", GTIN), ("10", "L-42/7"), ("17", dt.date(2027, 3, 31)), ("21", "SN0001")]


@pytest.mark.parametrize("symbology", [Symbology.GS1_128, Symbology.GS1_DATAMATRIX])
def test_gs1_label_decodes_to_the_same_element_string(symbology):
    label = Label.for_gs1(title="Widget", pairs=LOT_PAIRS, symbology=symbology)
    result = decode(main_symbol(label))
    assert result.content_type == zxingcpp.ContentType.GS1
    assert result.symbology_identifier in ("]C1", "]d2", "]d8") if symbology == Symbology.GS1_DATAMATRIX else True
    # the transmitted data: predefined-length AIs first, FNC1 (GS) after variable-length ones
    assert result.text == label.gs1.element_string == f"01{GTIN}17270331" + "10L-42/7\x1d21SN0001"
    hri = zxingcpp.read_barcode(raster(main_symbol(label)), text_mode=zxingcpp.TextMode.HRI).text
    assert hri == label.gs1.hri == f"(01){GTIN}(17)270331(10)L-42/7(21)SN0001"


def test_gs1_128_uses_code128_with_fnc1():
    label = Label.for_gs1(title="x", pairs=LOT_PAIRS)
    result = decode(main_symbol(label))
    assert result.format == zxingcpp.BarcodeFormat.Code128
    assert result.symbology_identifier == "]C1"  # FNC1 in first position: GS1-128


def test_qr_carries_the_digital_link_uri():
    label = Label.for_gs1(title="x", pairs=LOT_PAIRS, digital_link_base="https://id.example.com/")
    assert label.qr == f"https://id.example.com/01/{GTIN}/10/L-42%2F7/21/SN0001?17=270331"
    result = decode(qr_symbol(label.qr))
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.text == label.qr
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    parsed = GS1DigitalLinkURI.parse(label.qr.replace("https://id.example.com", "https://id.gs1.org"))
    assert sorted((e.ai.ai, e.value) for e in parsed.element_strings) == sorted(label.gs1.elements)


def test_location_and_sscc_ais():
    loc = Label.for_gs1(title="A-BIN1", pairs=[("414", "5790000000012"), ("254", "A-BIN1")])
    assert decode(main_symbol(loc)).text == "4145790000000012254A-BIN1"
    assert loc.qr == "https://id.gs1.org/414/5790000000012/254/A-BIN1"
    sscc = Label.for_gs1(title="Tote", pairs=[("00", "106141411234567897")])
    assert decode(main_symbol(sscc)).text == "00106141411234567897"


def test_invalid_gs1_is_refused():
    with pytest.raises(Gs1Error):
        Gs1Data.of([("01", "09506000134353")])  # wrong check digit
    with pytest.raises(Gs1Error):
        Gs1Data.of([("01", GTIN), ("10", "x" * 21)])  # lot longer than 20


def test_plain_code128_traveler():
    label = Label(title="Traveler", text="WO-00042", symbology=Symbology.CODE128)
    result = decode(main_symbol(label))
    assert result.symbology_identifier == "]C0" and result.text == "WO-00042"


def test_pdf_sheet_is_produced():
    labels = [Label.for_gs1(title=f"L{i}", pairs=LOT_PAIRS) for i in range(12)]
    pdf = labels_pdf(labels)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 2" in pdf  # 12 labels, 10 a page


def test_zpl_has_fnc1_and_data():
    gs1_128 = Label.for_gs1(title="Lot ^XZ", pairs=LOT_PAIRS, lines=("a~b",))
    dm = Label.for_gs1(title="Lot", pairs=LOT_PAIRS, symbology=Symbology.GS1_DATAMATRIX)
    zpl = labels_zpl([gs1_128, dm])
    assert zpl.count("^XA") == 2 and zpl.count("^XZ") == 2  # the title's ^XZ is hex-escaped, not a command
    # GS1-128: start B, FNC1 first, FNC1 after the variable-length lot, none after the last field
    assert f"^BCN,110,N,N,N^FD>:>801{GTIN}1727033110L-42/7>821SN0001^FS" in zpl
    # GS1 DataMatrix: ECC 200, escape `, FNC1 first and as separator
    assert f"^BXN,6,200,,,6,`^FD`101{GTIN}1727033110L-42/7`121SN0001^FS" in zpl
    assert "^FDMA,https://id.gs1.org/01/09506000134352/10/L-42%2F7/21/SN0001?17=270331^FS" in zpl
    assert "_5EXZ" in zpl and "a_7Eb" in zpl


def test_svg_preview_escapes_text():
    label = Label(title="<script>", text="WO-1", lines=("<b>",))
    svg = label_svg(label)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<svg" in svg
