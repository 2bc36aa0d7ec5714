"""Excursions protect stock (#17): a zone rule that holds what is inside puts every lot
and serial in the zone on hold when its alert is raised, lists what left during the
excursion, releases nothing on recovery, and the inspector releases or scraps."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.excursions.services import excursion_open
from devices.models import DeviceKind, Excursion, ExcursionEntry, SensorSample
from devices.pipeline.telemetry import rules_apply
from inventory import services as inventory
from inventory.models import Lot, SerialUnit, StockLevel, StockMove
from tests.factories.devices import DeviceFactory, ThresholdRuleFactory, ZoneFactory
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import SiteFactory, user_with_role
from tests.phone_tables import unlabelled_cells
from tests.scoping import covers, nothing_written
from tracker.models import Alert

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


class ColdStore:
    """A cold store (zone with a bin) holding lots and serials, a warm store next to it,
    a sensor in the cold store and a rule that holds what is inside."""

    def __init__(self, site, prefix: str = "") -> None:
        self.site = site
        p = prefix
        self.zone = ZoneFactory(site=site, code=f"{p}COLD")
        self.bin = ZoneFactory(site=site, code=f"{p}COLD-B1", parent=self.zone, kind="bin")
        self.warm = ZoneFactory(site=site, code=f"{p}WARM")
        self.sensor = DeviceFactory(
            site=site, device_id=f"{p}TEMP-1", kind=DeviceKind.SENSOR, upload_format="", location=self.zone
        )
        self.milk = LotItemFactory(sku=f"{p}MILK")
        self.vaccine = SerialItemFactory(sku=f"{p}VAX")
        self.plain = ItemFactory(sku=f"{p}ICE")
        receive(self.milk, self.bin, 5, lot_code=f"{p}M-1")
        receive(self.milk, self.zone, 3, lot_code=f"{p}M-2")
        receive(self.milk, self.warm, 4, lot_code=f"{p}M-OUT")
        receive(self.vaccine, self.bin, 2, serials=[f"{p}SN-1", f"{p}SN-2"])
        receive(self.vaccine, self.warm, 1, serials=[f"{p}SN-OUT"])
        receive(self.plain, self.bin, 10)
        self.rule = ThresholdRuleFactory(
            site=site, scope="zone", location=self.zone, duration_s=60, hold_contents=True, name=f"{p}Cold store"
        )

    def lot(self, code: str) -> Lot:
        return Lot.objects.get(item__sku__in=[self.milk.sku], code=code)

    def push(self, *pairs: tuple[float, float]) -> dict[str, int]:
        rows = []
        for seconds, value in pairs:
            row = SensorSample(
                site=self.site,
                device=self.sensor,
                sensor_id=self.sensor.device_id,
                metric="temperature",
                value=D(str(value)),
                unit="°C",
                observed_at=_at(seconds),
                location=self.zone,
            )
            row.save()
            rows.append(row)
        return rules_apply(site_id=self.site.pk, samples=rows, on_holding_raise=excursion_open)


@pytest.fixture
def cold(site_a) -> ColdStore:
    return ColdStore(site_a)


def _statuses(cold: ColdStore) -> dict[str, str]:
    lots = {lot.code: lot.status for lot in Lot.objects.filter(item=cold.milk)}
    serials = {unit.serial: unit.status for unit in SerialUnit.objects.filter(item=cold.vaccine)}
    return {**lots, **serials}


def test_raise_holds_exactly_the_lots_and_serials_in_the_zone(cold):
    assert cold.push((0, 9), (30, 9.5))["alerts_raised"] == 0
    assert Excursion.objects.count() == 0
    out = cold.push((60, 9.2))
    assert out["alerts_raised"] == 1 and out["excursion_holds"] == 1
    assert _statuses(cold) == {
        "M-1": "on_hold",
        "M-2": "on_hold",
        "M-OUT": "available",
        "SN-1": "on_hold",
        "SN-2": "on_hold",
        "SN-OUT": "in_stock",
    }
    excursion = Excursion.objects.get()
    assert excursion.rule == cold.rule and excursion.location == cold.zone
    assert excursion.started_at == T0 and excursion.raised_at == _at(60)
    assert excursion.readings == [{"at": _at(60).isoformat(), "value": "9.2", "sensor": "TEMP-1"}]
    held = {
        (e.lot.code if e.lot else None, e.serial.serial if e.serial else None, e.quantity, e.prior_status)
        for e in excursion.entries.filter(kind="held").select_related("lot", "serial")
    }
    assert held == {
        ("M-1", None, D(5), "available"),
        ("M-2", None, D(3), "available"),
        (None, "SN-1", D(1), "in_stock"),
        (None, "SN-2", D(1), "in_stock"),
    }
    reason = cold.lot("M-1").status_reason
    assert reason.startswith(f"excursion {excursion.pk}: Cold store (temperature in COLD since 2026-01-05T08:00:00")
    # Held stock cannot be shipped.
    with pytest.raises(inventory.errors.InsufficientStock):
        inventory.stock_ship(item=cold.milk, quantity=D(1), location=cold.bin)


def test_a_re_fire_of_the_alert_changes_nothing_more(cold):
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()
    entries = list(excursion.entries.values_list("pk", "kind", "lot_id", "serial_id", "quantity"))
    statuses = _statuses(cold)
    alert = Alert.objects.get(kind=cold.rule.alert_kind)
    with CaptureQueriesContext(connection):
        again = excursion_open(
            rule=cold.rule,
            alert=alert,
            started_at=T0,
            raised_at=_at(60),
            reading={"at": _at(60).isoformat(), "value": "9.0000", "sensor": "TEMP-1"},
        )
    assert again.pk == excursion.pk and Excursion.objects.count() == 1
    assert list(excursion.entries.values_list("pk", "kind", "lot_id", "serial_id", "quantity")) == entries
    assert _statuses(cold) == statuses
    # Further warm samples update the open alert; still one excursion, nothing added.
    cold.push((90, 10), (120, 11))
    assert Excursion.objects.count() == 1 and excursion.entries.count() == len(entries)


def test_lots_that_left_during_the_excursion_are_listed_not_held(cold):
    before = ZoneFactory(site=cold.site, code="PACKING")
    receive(cold.milk, cold.bin, 2, lot_code="M-EARLY")
    receive(cold.milk, cold.bin, 2, lot_code="M-LEFT")
    # Moved out before the breach began: not listed. Moved out after it began: listed.
    inventory.stock_transfer(
        item=cold.milk, quantity=D(2), source=cold.bin, destination=before, lot=cold.lot("M-EARLY"), occurred_at=_at(-5)
    )
    inventory.stock_transfer(
        item=cold.milk, quantity=D(2), source=cold.bin, destination=before, lot=cold.lot("M-LEFT"), occurred_at=_at(20)
    )
    inventory.stock_transfer(
        item=cold.vaccine, quantity=D(1), source=cold.bin, destination=before, serials=["SN-2"], occurred_at=_at(30)
    )
    inventory.stock_transfer(  # part of M-1 left; the rest is held: listed as held only
        item=cold.milk, quantity=D(1), source=cold.bin, destination=before, lot=cold.lot("M-1"), occurred_at=_at(40)
    )
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()
    left = {
        (e.lot.code if e.lot else None, e.serial.serial if e.serial else None, e.location.code, e.quantity)
        for e in excursion.entries.filter(kind="left").select_related("lot", "serial", "location")
    }
    assert left == {("M-LEFT", None, "PACKING", D(2)), (None, "SN-2", "PACKING", D(1))}
    assert _statuses(cold)["M-LEFT"] == "available" and _statuses(cold)["SN-2"] == "in_stock"
    assert excursion.entries.get(kind="held", lot__code="M-1").quantity == D(4)


def test_nothing_is_released_when_the_temperature_recovers(cold):
    cold.push((0, 9), (60, 9))
    held = _statuses(cold)
    out = cold.push((120, 4), (180, 3))
    assert out["alerts_cleared"] == 1
    assert _statuses(cold) == held


def test_a_rule_without_hold_contents_holds_nothing(cold):
    cold.rule.hold_contents = False
    cold.rule.save()
    cold.push((0, 9), (60, 9))
    assert Alert.objects.filter(kind=cold.rule.alert_kind).exists()
    assert not Excursion.objects.exists() and cold.lot("M-1").status == "available"


# --- the inspector's page ---------------------------------------------------------------------


@pytest.fixture
def inspector(site_a) -> Client:
    client = Client()
    client.force_login(user_with_role("quality inspector", site_a))
    return client


def _entry(excursion, code: str) -> ExcursionEntry:
    return excursion.entries.get(
        kind="held", **({"serial__serial": code} if code.startswith("SN") else {"lot__code": code})
    )


def test_the_page_shows_the_held_lots_the_curve_and_what_left(cold, inspector):
    cold.push((0, 9), (30, 9.4), (60, 9.6))
    excursion = Excursion.objects.get()
    page = inspector.get(f"/devices/excursions/{excursion.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    for text in (
        "M-1",
        "M-2",
        "SN-1",
        "SN-2",
        "Left the zone",
        "<svg",
        "temperature (°C)",
        "alert above 8.0",
        "<polyline",
    ):
        assert text in body, text
    # The zone is named once, on the axis title ("time (UTC)", not "time (UTC UTC)"), the ticks bare.
    assert re.search(r"time \((\w+)\)</text>", body) and " UTC UTC" not in body and " CET CET" not in body
    assert not re.search(r'class="tick"[^>]*>\d\d:\d\d [A-Z]', body)
    assert unlabelled_cells(body) == []  # every held and left cell named on a phone
    unit = cold.milk.unit
    assert f'<td data-label="Quantity" class="num">5 {unit}</td>' in body  # M-1 held, with its unit
    assert "M-OUT" not in body and "style=" not in body and "<script" not in body.split("<svg", 1)[1].split("</svg>")[0]
    listing = inspector.get("/devices/excursions/").content.decode()
    assert "COLD" in listing and f"/devices/excursions/{excursion.pk}/" in listing
    assert unlabelled_cells(listing) == []  # each figure named on a phone


def test_release_and_scrap_from_the_page(cold, inspector):
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()
    url = f"/devices/excursions/{excursion.pk}/decide/"
    m1, m2, sn1 = _entry(excursion, "M-1"), _entry(excursion, "M-2"), _entry(excursion, "SN-1")
    response = inspector.post(url, {"entry": [m1.pk], "decision": "release", "note": "probe fault"})
    assert response.status_code == 302
    assert cold.lot("M-1").status == "available" and cold.lot("M-2").status == "on_hold"
    inspector.post(url, {"entry": [m2.pk, sn1.pk], "decision": "scrap"})
    assert StockLevel.objects.get(item=cold.milk, lot__code="M-2", location=cold.zone).on_hand == 0
    assert SerialUnit.objects.get(serial="SN-1").status == "scrapped"
    assert SerialUnit.objects.get(serial="SN-2").status == "on_hold"
    scraps = StockMove.objects.filter(kind="scrap", reference=f"EXC-{excursion.pk}")
    assert sorted((m.lot.code if m.lot else m.serial.serial, m.quantity) for m in scraps) == [("M-2", 3), ("SN-1", 1)]
    decided = dict(excursion.entries.filter(kind="held").values_list("pk", "decision"))
    assert decided[m1.pk] == "released" and decided[m2.pk] == "scrapped" and decided[sn1.pk] == "scrapped"
    # A decided entry cannot be decided again; nothing changes.
    with nothing_written():
        inspector.post(url, {"entry": [m1.pk], "decision": "scrap"})
    call_command("verify_ledger")


def test_a_lot_held_before_the_excursion_stays_held_on_release(cold, inspector):
    inventory.lot_set_status(lot=cold.lot("M-2"), status="quarantined", reason="incoming QC")
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()
    entry = _entry(excursion, "M-2")
    assert entry.prior_status == "quarantined"
    inspector.post(f"/devices/excursions/{excursion.pk}/decide/", {"entry": [entry.pk], "decision": "release"})
    assert cold.lot("M-2").status == "quarantined"


def test_roles_without_the_lot_permission_cannot_decide(cold, site_a):
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()
    viewer = Client()
    viewer.force_login(user_with_role("viewer", site_a))
    assert viewer.get(f"/devices/excursions/{excursion.pk}/").status_code == 200
    with nothing_written():
        response = viewer.post(
            f"/devices/excursions/{excursion.pk}/decide/",
            {"entry": [_entry(excursion, "M-1").pk], "decision": "release"},
        )
    assert response.status_code == 403


# --- scoping and query counts -------------------------------------------------------------------


@covers("devices:excursions GET", "devices:excursion GET", "devices:excursion_decide POST")
def test_another_sites_excursion_is_not_found_and_its_stock_untouched(cold, site_a):
    site_b = SiteFactory(code="plant-b-x")
    other = ColdStore(site_b, prefix="B")
    other.push((0, 9), (60, 9))
    cold.push((0, 9), (60, 9))
    mine = Excursion.objects.get(site=site_a)
    theirs = Excursion.objects.get(site=site_b)
    client = Client()
    client.force_login(user_with_role("plant manager", site_a))
    listing = client.get("/devices/excursions/").content.decode()
    assert f"/devices/excursions/{mine.pk}/" in listing and f"/devices/excursions/{theirs.pk}/" not in listing
    assert client.get(f"/devices/excursions/{theirs.pk}/").status_code == 404
    their_entry = theirs.entries.filter(kind="held").first()
    with nothing_written():
        refused = client.post(
            f"/devices/excursions/{theirs.pk}/decide/", {"entry": [their_entry.pk], "decision": "release"}
        )
    assert refused.status_code == 404
    # An entry of B's excursion named against A's excursion: refused, nothing written.
    with nothing_written():
        client.post(f"/devices/excursions/{mine.pk}/decide/", {"entry": [their_entry.pk], "decision": "release"})
    control = client.post(
        f"/devices/excursions/{mine.pk}/decide/", {"entry": [_entry(mine, "M-1").pk], "decision": "release"}
    )
    assert control.status_code == 302 and cold.lot("M-1").status == "available"


def test_excursion_list_and_page_query_counts_do_not_grow(cold, inspector):
    cold.push((0, 9), (60, 9))
    excursion = Excursion.objects.get()

    def count(url: str) -> int:
        inspector.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert inspector.get(url).status_code == 200
        return len(ctx.captured_queries)

    list_one, page_one = count("/devices/excursions/"), count(f"/devices/excursions/{excursion.pk}/")
    for i in range(3):  # more excursions, and more lots and serials held by the same one
        receive(cold.milk, cold.bin, 1, lot_code=f"M-MORE-{i}")
        receive(cold.vaccine, cold.bin, 1, serials=[f"SN-MORE-{i}"])
        cold.push((200 + i * 200, 3), (260 + i * 200, 9), (330 + i * 200, 9))
    assert Excursion.objects.count() == 4
    assert count("/devices/excursions/") == list_one
    first = Excursion.objects.order_by("pk").first()
    excursion_open(
        rule=cold.rule, alert=first.alert, started_at=first.started_at, raised_at=first.raised_at, reading={}
    )
    assert first.entries.count() > 4
    assert count(f"/devices/excursions/{first.pk}/") == page_one
