"""Every label Shopfloor prints, scanned back: the label views' own functions make the
label, zxing-cpp decodes its barcode and its QR from the image, and the decoded text
fills what the receive/transfer/count forms (``inventory.scanning.parse_scan``) and
the station page (``wip.scanning.work_order_from_scan``) need."""

from __future__ import annotations

import datetime as dt

import pytest
import zxingcpp

from inventory.labels.views import item_label, location_label, lot_label, serial_label
from inventory.scanning import decode_scan, parse_scan
from tests.factories.devices import TagAssignmentFactory, TagFactory
from tests.factories.inventory import ItemFactory, LotFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory
from tests.factories.wip import make_plant
from tracker.labels import Symbology
from tracker.labels.symbols import main_symbol, qr_symbol
from tracker.tests.test_labels import raster
from wip.labels.views import tote_label, traveler_label
from wip.scanning import work_order_from_scan
from wip.services import work_order_create

GTIN = "09506000134352"
SITE_GLN = "5790000000012"
BIN_GLN = "5790000000029"
SSCC = "106141411234567897"
pytestmark = pytest.mark.django_db
GS1_SYMBOLOGIES = [Symbology.GS1_128, Symbology.GS1_DATAMATRIX]


def _read(image) -> zxingcpp.Barcode:
    result = zxingcpp.read_barcode(image, text_mode=zxingcpp.TextMode.Plain)
    assert result is not None and result.valid
    return result


def scans(label) -> dict[str, str]:
    """What scanners type for this label: its barcode with the AIM symbology identifier
    (FNC1 as GS), the same without it (a keyboard wedge set to send data only), and
    its QR when it has one."""
    main = _read(raster(main_symbol(label)))
    out = {"barcode": main.symbology_identifier + main.text, "barcode, no AIM id": main.text}
    if label.qr:
        qr = _read(raster(qr_symbol(label.qr)))
        assert qr.text == label.qr
        out["qr"] = qr.symbology_identifier + qr.text
    return out


def _form_fields(result: dict) -> dict:
    return {k: result[k] for k in ("sku", "lot", "serial", "expiry_date", "location")} | {"error": result.get("error")}


@pytest.fixture
def clerk(site_a, make_user):
    return make_user("warehouse clerk", site_a)


# --- items, lots, serial units -------------------------------------------------------


@pytest.mark.parametrize("symbology", GS1_SYMBOLOGIES)
def test_item_label(site_a, clerk, symbology):
    item = ItemFactory(sku="BOLT", gtin=GTIN)
    label = item_label(item, symbology=symbology, errors=[])
    assert set(scans(label)) == {"barcode", "barcode, no AIM id", "qr"}
    for how, text in scans(label).items():
        assert _form_fields(parse_scan(text, user=clerk, site=site_a)) == {
            "sku": "BOLT",
            "lot": None,
            "serial": None,
            "expiry_date": None,
            "location": None,
            "error": None,
        }, how


@pytest.mark.parametrize("symbology", GS1_SYMBOLOGIES)
def test_lot_label(site_a, clerk, symbology):
    lot = LotFactory(
        item=LotItemFactory(sku="STEEL", gtin=GTIN), site=site_a, code="L-42/7", expiry_date=dt.date(2027, 3, 31)
    )
    for how, text in scans(lot_label(lot, symbology=symbology, errors=[])).items():
        result = parse_scan(text, user=clerk, site=site_a)
        assert _form_fields(result) == {
            "sku": "STEEL",
            "lot": "L-42/7",
            "serial": None,
            "expiry_date": "2027-03-31",
            "location": None,
            "error": None,
        }, how
        assert result["gtin"] == GTIN


@pytest.mark.parametrize("symbology", GS1_SYMBOLOGIES)
def test_serial_label(site_a, clerk, symbology):
    bin1 = LocationFactory(site=site_a, kind="bin", code="A-B1")
    item = SerialItemFactory(sku="PUMP", gtin=GTIN)
    lot = LotFactory(item=item, site=site_a, code="PL-1", expiry_date=dt.date(2028, 1, 15))
    (move,) = receive(item, bin1, 1, serials=["SN-9"], lot_code=lot.code)
    for how, text in scans(serial_label(move.serial, symbology=symbology, errors=[])).items():
        assert _form_fields(parse_scan(text, user=clerk, site=site_a)) == {
            "sku": "PUMP",
            "lot": "PL-1",
            "serial": "SN-9",
            "expiry_date": "2028-01-15",
            "location": None,
            "error": None,
        }, how


def test_labels_without_gtin_are_plain_keys_the_forms_resolve(site_a, clerk):
    bin1 = LocationFactory(site=site_a, kind="bin", code="A-B1")
    item = ItemFactory(sku="WASHER")
    lot = LotFactory(item=LotItemFactory(sku="OIL"), site=site_a, code="OIL-L1", expiry_date=dt.date(2027, 1, 2))
    (move,) = receive(SerialItemFactory(sku="MOTOR"), bin1, 1, serials=["M-77"])
    expected = [
        (item_label(item, symbology=Symbology.GS1_128, errors=[]), {"sku": "WASHER"}),
        (
            lot_label(lot, symbology=Symbology.GS1_128, errors=[]),
            {"sku": "OIL", "lot": "OIL-L1", "expiry_date": "2027-01-02"},
        ),
        (serial_label(move.serial, symbology=Symbology.GS1_128, errors=[]), {"sku": "MOTOR", "serial": "M-77"}),
    ]
    for label, fields in expected:
        assert label.symbology == Symbology.CODE128 and label.qr is None
        for how, text in scans(label).items():
            result = _form_fields(parse_scan(text, user=clerk, site=site_a))
            assert (
                result
                == {"sku": None, "lot": None, "serial": None, "expiry_date": None, "location": None, "error": None}
                | fields
            ), (label.title, how)


# --- locations -----------------------------------------------------------------


@pytest.mark.parametrize("symbology", GS1_SYMBOLOGIES)
def test_location_label_with_the_sites_gln_and_the_code_as_extension(site_a, clerk, symbology):
    site_a.gln = SITE_GLN
    site_a.save()
    bin1 = LocationFactory(site=site_a, kind="bin", code="A-BIN1")
    label = location_label(bin1, symbology=symbology, errors=[])
    assert label.gs1.elements == (("414", SITE_GLN), ("254", "A-BIN1"))
    assert label.qr == f"https://id.gs1.org/414/{SITE_GLN}/254/A-BIN1"
    for how, text in scans(label).items():
        assert _form_fields(parse_scan(text, user=clerk, site=site_a)) == {
            "sku": None,
            "lot": None,
            "serial": None,
            "expiry_date": None,
            "location": "A-BIN1",
            "error": None,
        }, how


def test_location_label_with_its_own_gln(site_a, clerk):
    site_a.gln = SITE_GLN
    site_a.save()
    dock = LocationFactory(site=site_a, kind="dock", code="A-DOCK", gln=BIN_GLN)
    label = location_label(dock, symbology=Symbology.GS1_128, errors=[])
    assert label.gs1.elements == (("414", BIN_GLN),)
    for how, text in scans(label).items():
        assert parse_scan(text, user=clerk, site=site_a)["location"] == "A-DOCK", how


def test_location_label_without_gln_is_its_code(site_a, clerk):
    bin1 = LocationFactory(site=site_a, kind="bin", code="A-BIN7")
    label = location_label(bin1, symbology=Symbology.GS1_128, errors=[])
    assert label.symbology == Symbology.CODE128
    for how, text in scans(label).items():
        assert parse_scan(text, user=clerk, site=site_a)["location"] == "A-BIN7", how


def test_digital_link_on_another_host_reads_the_same():
    scan = decode_scan(f"https://labels.example.com/414/{SITE_GLN}/254/A-BIN1")
    assert scan.elements == (("414", SITE_GLN), ("254", "A-BIN1")) and scan.url is None


def test_another_sites_location_is_not_found(site_a, site_b, clerk, make_user):
    """Scoping: a label of a site the user does not hold names nothing; one of a site the
    user holds but is not working at does not fill the form either."""
    for site, gln in ((site_a, SITE_GLN), (site_b, "4000001000005")):
        site.gln = gln
        site.save()
    theirs = LocationFactory(site=site_b, kind="bin", code="B-BIN1")
    own_gln = LocationFactory(site=site_b, kind="bin", code="B-BIN2", gln=BIN_GLN)
    texts = [
        t
        for loc in (theirs, own_gln)
        for t in scans(location_label(loc, symbology=Symbology.GS1_128, errors=[])).values()
    ]
    for text in texts:
        result = parse_scan(text, user=clerk, site=site_a)
        assert result["location"] is None and result["error"], text
        assert parse_scan(text, user=clerk, site=None)["location"] is None, text  # not one of the user's sites
    both = make_user("warehouse clerk", site_a, site_b)
    for text in texts:
        assert parse_scan(text, user=both, site=site_a)["location"] is None, text
        assert parse_scan(text, user=both, site=site_b)["location"] in ("B-BIN1", "B-BIN2"), text
    # The extension is looked up under the GLN that was scanned, not anywhere.
    LocationFactory(site=site_a, kind="bin", code="A-BIN9")
    assert parse_scan(f"414{SITE_GLN}254B-BIN1", user=both, site=site_b)["location"] is None
    assert parse_scan("4144000001000005254A-BIN9", user=both, site=site_a)["location"] is None


def test_scan_lookups_need_a_user_who_may_see_them(site_a):
    from django.contrib.auth.models import AnonymousUser

    LocationFactory(site=site_a, kind="bin", code="A-BIN1")
    ItemFactory(sku="BOLT", gtin=GTIN)
    assert parse_scan("A-BIN1", user=AnonymousUser(), site=site_a)["location"] is None
    assert parse_scan(f"]C101{GTIN}", user=AnonymousUser(), site=site_a)["sku"] is None


def test_unreadable_scans_say_why(site_a, clerk):
    assert parse_scan("", user=clerk, site=site_a)["error"] == "Empty scan."
    assert "GS1" in parse_scan("]C1XYZ", user=clerk, site=site_a)["error"]
    assert "No GS1 data" in parse_scan("nonsense", user=clerk, site=site_a)["error"]
    assert "web address" in parse_scan("https://example.com/x", user=clerk, site=site_a)["error"]


# --- travelers and totes at the station --------------------------------------------


@pytest.fixture
def order(site_a):
    plant = make_plant(site_a)
    return work_order_create(site=site_a, item=plant.product, routing=plant.routing, quantity=2, number="WO-77")


def test_traveler_barcode_and_qr_name_the_work_order(site_a, order, make_user, rf):
    operator = make_user("operator", site_a)
    label = traveler_label(order, url=f"https://shopfloor.example.com/wip/work-orders/{order.number}/")
    texts = scans(label)
    assert texts["barcode"] == "]C0WO-77" and texts["qr"] == "]Q1https://shopfloor.example.com/wip/work-orders/WO-77/"
    for how, text in texts.items():
        assert work_order_from_scan(user=operator, site=site_a, text=text) == order, how
    assert parse_scan(texts["barcode"], user=operator, site=site_a)["text"] == "WO-77"


def test_another_sites_traveler_names_nothing(site_a, site_b, order, make_user):
    outsider = make_user("operator", site_b)
    for text in scans(traveler_label(order, url="http://x/wip/work-orders/WO-77/")).values():
        assert work_order_from_scan(user=outsider, site=site_b, text=text) is None
        assert work_order_from_scan(user=outsider, site=site_a, text=text) is None


@pytest.mark.parametrize("symbology", GS1_SYMBOLOGIES)
def test_tote_label_names_the_order_its_tag_carries(site_a, order, make_user, symbology):
    """A tote labelled with its SSCC, or with the code it was registered under, carries
    the order its tag is assigned to now."""
    operator = make_user("operator", site_a)
    sscc_tote = TagFactory(site=site_a, tag_id=SSCC)
    TagAssignmentFactory(tag=sscc_tote, target_kind="work_order", work_order=order, code="")
    label = tote_label(SSCC, symbology=symbology)
    assert label.gs1.elements == (("00", SSCC),) and label.qr == f"https://id.gs1.org/00/{SSCC}"
    for how, text in scans(label).items():
        assert parse_scan(text, user=operator, site=site_a)["sscc"] == SSCC, how
        assert work_order_from_scan(user=operator, site=site_a, text=text) == order, how

    rfid_tote = TagFactory(site=site_a)
    TagAssignmentFactory(
        tag=rfid_tote,
        target_kind="container",
        code="TOTE-7",
        valid_to=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        valid_from=dt.datetime(2029, 1, 1, tzinfo=dt.UTC),
    )
    other = work_order_create(site=site_a, item=order.item, routing=order.routing, quantity=1, number="WO-78")
    TagAssignmentFactory(
        tag=rfid_tote,
        target_kind="work_order",
        work_order=other,
        code="",
        valid_from=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    plain = tote_label("TOTE-7", symbology=symbology)
    for how, text in scans(plain).items():
        assert work_order_from_scan(user=operator, site=site_a, text=text) == other, how


def test_an_empty_or_foreign_tote_names_nothing(site_a, site_b, order, make_user):
    TagAssignmentFactory(tag=TagFactory(site=site_a), target_kind="container", code="TOTE-EMPTY")
    TagAssignmentFactory(
        tag=TagFactory(site=site_a, tag_id="TOTE-A"), target_kind="work_order", work_order=order, code=""
    )
    operator = make_user("operator", site_a)
    assert work_order_from_scan(user=operator, site=site_a, text="TOTE-EMPTY") is None
    outsider = make_user("operator", site_b)
    assert work_order_from_scan(user=outsider, site=site_b, text="TOTE-A") is None
    assert work_order_from_scan(user=outsider, site=site_a, text="TOTE-A") is None
    assert work_order_from_scan(user=operator, site=site_a, text="TOTE-A") == order


@pytest.mark.parametrize("text", ["4006381333931", "]E04006381333931", "04006381333931"])
def test_a_retail_barcode_is_its_gtin(site_a, clerk, text):
    ItemFactory(sku="RETAIL", gtin="4006381333931")
    assert parse_scan(text, user=clerk, site=site_a)["sku"] == "RETAIL"
