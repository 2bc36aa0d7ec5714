"""EPCIS 2.0 capture and query: GS1's four worked examples, the partner capture
document of ``uploads/``, idempotency, refusals, scoping and exported documents."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from devices.epcis.mapping import gln_of, gtin_of
from devices.epcis.models import Containment, EpcisEvent
from devices.parsers import epcis2
from inventory.models import GenealogyLink, Item, Lot, SerialUnit, StockLevel, StockMove
from tests.factories.inventory import ItemFactory, LotItemFactory, SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory
from tests.factories.wip import make_plant
from tests.scoping import covers
from wip import services as wip

# Copies of GS1's worked examples and the example uploads, kept with the tests.
UPLOADS = Path(__file__).resolve().parent / "uploads"
STANDARD = UPLOADS / "epcis"
CAPTURE = "/api/v1/epcis/capture"
EVENTS = "/api/v1/epcis/events"


def site_with_gln(code: str, gln: str):
    site = SiteFactory(code=code)
    site.gln = gln
    site.save(update_fields=["gln"])
    return site


def example(name: str) -> bytes:
    return (STANDARD / name).read_bytes()


def post(client, body: bytes | dict, **headers):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    return client.post(CAPTURE, data=body, content_type="application/ld+json", **headers)


def level(item, location, lot=None) -> Decimal:
    row = StockLevel.objects.filter(item=item, location=location, lot=lot).first()
    return row.on_hand if row else Decimal(0)


def ledger_size() -> tuple[int, int, int, int]:
    return (
        StockMove.objects.count(),
        EpcisEvent.objects.count(),
        Containment.objects.count(),
        SerialUnit.objects.count(),
    )


@pytest.fixture
def gs1(db):
    """Master data the worked examples name: one site, locations with their SGLNs, items with their GTINs."""
    site = SiteFactory(code="gs1-site")
    loc = {
        "ship_from": None,  # 0614141.07346.1234 is the supplier's: unknown here on purpose
        "dock": LocationFactory(site=site, code="DOCK-R", kind="dock", gln=gln_of("0012345", "11111")),
        "recv_rp": LocationFactory(site=site, code="RECV-RP", kind="zone", gln=gln_of("0614141", "00777")),
        "recv": LocationFactory(site=site, code="RECV", kind="zone", gln=gln_of("0614141", "00888")),
        "prod": LocationFactory(site=site, code="PROD", kind="zone", gln=gln_of("4012345", "00001")),
    }
    items = {
        "unit": SerialItemFactory(sku="EX-UNIT", gtin=gtin_of("0614141", "107346")),
        "bulk": LotItemFactory(sku="EX-BULK", unit=Item.Unit.KG, gtin=gtin_of("4012345", "012345")),
        "case": ItemFactory(sku="EX-CASE", gtin=gtin_of("4012345", "098765")),
        "in_serial": SerialItemFactory(sku="EX-IN-S", gtin=gtin_of("4012345", "011122")),
        "in_serial2": SerialItemFactory(sku="EX-IN-S2", gtin=gtin_of("4000001", "065432")),
        "in_kg": LotItemFactory(sku="EX-IN-KG", unit=Item.Unit.KG, gtin=gtin_of("4012345", "011111")),
        "in_lot": LotItemFactory(sku="EX-IN-LOT", gtin=gtin_of("0614141", "077777")),
        "in_plain": ItemFactory(sku="EX-IN-PLAIN", gtin=gtin_of("4012345", "066666")),
        "out": SerialItemFactory(sku="EX-OUT", gtin=gtin_of("4012345", "077889")),
    }
    return site, loc, items


@pytest.fixture
def clerk(gs1, make_user, api_client):
    user = make_user("warehouse clerk", gs1[0])
    api_client.force_authenticate(user)
    return user


# --------------------------------------------------------------------------- the worked examples


def test_9_6_1_object_events_receive_what_the_supplier_shipped(gs1, clerk, api_client):
    site, loc, items = gs1
    response = post(api_client, example("Example_9.6.1-ObjectEvent.jsonld"))
    assert response.status_code == 202, response.content
    assert response["Location"].startswith("/api/v1/epcis/capture/")
    counts = response.json()["counts"]
    # The supplier's shipping event: its read point and serials are not ours -> recorded as unknown.
    assert counts["unknown"] == 1 and counts["applied"] == 1 and counts["moves"] == 1
    unit = SerialUnit.objects.get(item=items["unit"], serial="2018")
    assert unit.location == loc["dock"] and unit.status == SerialUnit.Status.IN_STOCK
    move = StockMove.objects.get(serial=unit)
    assert (move.kind, move.reference, move.reference_type) == ("receipt", "12345678", "purchase_order")
    assert move.occurred_at == dt.datetime(2005, 4, 5, 2, 33, 31, 116000, tzinfo=dt.UTC)
    assert not SerialUnit.objects.filter(serial="2017").exists()
    # The capture job is there for its sender.
    job = api_client.get(response["Location"])
    assert job.status_code == 200 and job.json()["running"] is False


def test_9_6_2_lot_quantity_received(gs1, clerk, api_client):
    site, loc, items = gs1
    response = post(api_client, example("Example_9.6.2-ObjectEvent.jsonld"))
    assert response.status_code == 202, response.content
    lot = Lot.objects.get(item=items["bulk"], code="998877")
    assert level(items["bulk"], loc["recv"], lot) == Decimal("200")
    move = StockMove.objects.get(lot=lot)
    assert move.kind == "receipt" and move.partner == "urn:epc:id:sgln:4012345.00001.0"


def test_9_6_3_aggregation_receives_the_pallet_and_records_its_contents(gs1, clerk, api_client):
    site, loc, items = gs1
    response = post(api_client, example("Example_9.6.3-AggregationEvent.jsonld"))
    assert response.status_code == 202, response.content
    assert response.json()["counts"]["containments"] == 4
    parent = "urn:epc:id:sscc:0614141.1234567890"
    rows = Containment.objects.filter(parent=parent, unpacked_at__isnull=True)
    assert rows.count() == 4
    assert {r.serial.serial for r in rows if r.serial_id} == {"2017", "2018"}
    lot = Lot.objects.get(item=items["bulk"], code="998877")
    assert level(items["bulk"], loc["recv"], lot) == Decimal("200.5")
    assert level(items["case"], loc["recv"]) == Decimal("10")
    assert SerialUnit.objects.filter(item=items["unit"], location=loc["recv"]).count() == 2


def _stock_transformation_inputs(loc, items):
    prod = loc["prod"]
    receive(items["in_serial"], prod, 1, serials=["25"])
    receive(items["in_serial2"], prod, 1, serials=["99886655"])
    receive(items["in_kg"], prod, 12, lot_code="4444")
    receive(items["in_lot"], prod, 40, lot_code="987")
    receive(items["in_plain"], prod, 300)


def test_9_6_4_transformation_consumes_inputs_and_produces_with_genealogy(gs1, clerk, api_client):
    site, loc, items = gs1
    _stock_transformation_inputs(loc, items)
    response = post(api_client, example("Example_9.6.4-TransformationEvent.jsonld"))
    assert response.status_code == 202, response.content
    prod = loc["prod"]
    assert level(items["in_kg"], prod, Lot.objects.get(code="4444")) == Decimal("2")
    assert level(items["in_lot"], prod, Lot.objects.get(code="987")) == Decimal("10")
    assert level(items["in_plain"], prod) == Decimal("80")
    assert SerialUnit.objects.get(item=items["in_serial"], serial="25").status == SerialUnit.Status.CONSUMED
    outputs = SerialUnit.objects.filter(item=items["out"])
    assert sorted(u.serial for u in outputs) == ["25", "26", "27", "28"]
    assert all(u.location == prod for u in outputs)
    # Each output links to each lot/serial input (the untracked item has nothing to link).
    assert GenealogyLink.objects.filter(output_serial__in=outputs).count() == 4 * 4


@pytest.mark.parametrize(
    "name",
    [
        "Example_9.6.1-ObjectEvent.jsonld",
        "Example_9.6.2-ObjectEvent.jsonld",
        "Example_9.6.3-AggregationEvent.jsonld",
        "Example_9.6.4-TransformationEvent.jsonld",
    ],
)
def test_examples_captured_twice_take_effect_once(gs1, clerk, api_client, name):
    site, loc, items = gs1
    if "9.6.4" in name:
        _stock_transformation_inputs(loc, items)
    assert post(api_client, example(name)).status_code == 202
    before = ledger_size()
    levels = list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True))
    again = post(api_client, example(name))
    assert again.status_code == 202
    counts = again.json()["counts"]
    assert counts["duplicate"] == counts["events"] and counts["moves"] == 0
    assert ledger_size()[0::2] == before[0::2] and ledger_size()[3] == before[3]
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True)) == levels


# --------------------------------------------------------------------------- a partner's document


@pytest.fixture
def partner_plant(db):
    site = site_with_gln("plant-9501101", "9501101000018")
    floor = LocationFactory(site=site, kind="area", code="P9-FLOOR")
    locs = {
        code: LocationFactory(site=site, kind="zone", code=code, parent=floor)
        for code in ("STORES9", "WS030", "QC01", "PACK1", "COLD1", "DOCK2")
    }
    component = SerialItemFactory(sku="P9-COMP", gtin=gtin_of("9501101", "153001"))
    unit = SerialItemFactory(sku="P9-UNIT", gtin=gtin_of("9501101", "053000"))
    receive(component, locs["WS030"], 1, serials=["20007"])
    receive(unit, locs["STORES9"], 2, serials=["100001", "100002"])
    return site, locs, component, unit


def test_partner_document_from_uploads_class_quantity_of_a_serial_item_is_refused(partner_plant, make_user, api_client):
    site, locs, component, unit = partner_plant
    api_client.force_authenticate(make_user("warehouse clerk", site))
    before = ledger_size()
    response = post(api_client, (UPLOADS / "epcis-2.0-capture.jsonld").read_bytes())
    # 2.5 KGM of the component's GTIN: the component is counted in pieces here.
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "wrong_unit" and body["event_index"] == 0
    assert "inputQuantityList[0].quantity" in body["detail"]
    assert ledger_size() == before


def test_partner_document_life_of_unit_4711(partner_plant, make_user, api_client):
    site, locs, component, unit = partner_plant
    api_client.force_authenticate(make_user("warehouse clerk", site))
    doc = json.loads((UPLOADS / "epcis-2.0-capture.jsonld").read_bytes())
    del doc["epcisBody"]["eventList"][0]["inputQuantityList"]  # see the refusal test above
    response = post(api_client, doc)
    assert response.status_code == 202, response.content
    counts = response.json()["counts"]
    assert counts["applied"] == 5 and counts["containments"] == 3
    made = SerialUnit.objects.get(item=unit, serial="4711")
    assert made.lot.code == "LOT-2611A" and made.lot.expiry_date == dt.date(2027, 1, 31)
    assert GenealogyLink.objects.filter(output_serial=made, input_serial__serial="20007").exists()
    # Inspected at QC01, packed at PACK1, cold store, then the pallet shipped: its contents leave stock.
    shipped = SerialUnit.objects.filter(item=unit, serial__in=["4711", "100001", "100002"])
    assert {u.status for u in shipped} == {SerialUnit.Status.SHIPPED}
    ship = StockMove.objects.filter(kind="ship", serial=made).get()
    assert ship.source == locs["COLD1"] and ship.reference == "PO-88231"
    assert ship.partner == "urn:epc:id:pgln:4012345.00000"
    path = list(StockMove.objects.filter(serial=made).order_by("pk").values_list("kind", "destination__code"))
    assert [k for k, _ in path] == ["produce", "transfer", "transfer", "transfer", "ship"]


# --------------------------------------------------------------------------- refusals and scoping


def test_schema_violation_names_event_and_field_and_writes_nothing(gs1, clerk, api_client):
    doc = json.loads(example("Example_9.6.2-ObjectEvent.jsonld"))
    doc["epcisBody"]["eventList"][0]["action"] = "MOVE"
    before = ledger_size()
    response = post(api_client, doc)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "epcis_invalid"
    assert "event [0] (ObjectEvent) field action" in body["detail"]
    assert body["errors"] == {"epcisBody.eventList[0].action": [body["detail"]]}
    assert ledger_size() == before


def test_not_json_is_a_400(clerk, api_client):
    response = post(api_client, b"{not json")
    assert response.status_code == 400 and response.json()["code"] == "epcis_invalid"


def test_a_refused_second_event_rolls_back_the_first(gs1, clerk, api_client):
    doc = json.loads(example("Example_9.6.2-ObjectEvent.jsonld"))
    bad = copy.deepcopy(doc["epcisBody"]["eventList"][0])
    bad["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000002"
    bad["action"] = "DELETE"  # more than the first event received: a domain error, not an unknown identifier
    bad["quantityList"] = [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 999, "uom": "KGM"}]
    doc["epcisBody"]["eventList"].append(bad)
    before = ledger_size()
    response = post(api_client, doc)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "insufficient_stock" and body["event_index"] == 1
    assert "quantityList[0].quantity" in body["detail"]
    assert ledger_size() == before


def test_an_unknown_class_is_recorded_unresolved_not_refused(gs1, clerk, api_client):
    from devices.epcis.models import EpcisIdentifier

    doc = json.loads(example("Example_9.6.2-ObjectEvent.jsonld"))
    event = doc["epcisBody"]["eventList"][0]
    event["action"] = "ADD"
    event["quantityList"] = [{"epcClass": "urn:epc:class:lgtin:4012345.099999.1", "quantity": 1}]
    response = post(api_client, doc)
    assert response.status_code == 202, response.content
    assert response.json()["counts"]["unknown"] == 1 and StockMove.objects.count() == 0
    pending = EpcisIdentifier.objects.get()
    assert (pending.role, pending.kind, pending.resolved_at) == ("quantityList", "lot", None)
    assert pending.key == f"01/{gtin_of('4012345', '099999')}/10/1" and pending.site == gs1[0]


def _foreign_answer(client, doc: dict) -> dict:
    from tests.scoping import database_state

    before = database_state()
    response = post(client, doc)
    assert response.status_code == 202, response.content
    after = database_state()
    changed = {label for label in before if before[label] != after[label]}
    # Only the capture's own record of what was sent: no stock, lot, serial, containment anywhere.
    assert changed <= {"devices.EpcisCapture", "devices.EpcisEvent", "devices.EpcisIdentifier"}, changed
    counts = response.json()["counts"]
    return {k: v for k, v in counts.items() if k != "duplicate"}


@covers("epcis-capture POST")
def test_another_sites_location_answers_as_an_unknown_one_and_touches_nothing(gs1, make_user, api_client):
    site, loc, items = gs1
    other = SiteFactory(code="elsewhere")
    api_client.force_authenticate(make_user("warehouse clerk", other))
    theirs = json.loads(example("Example_9.6.2-ObjectEvent.jsonld"))  # names gs1-site's GLNs
    nobodys = copy.deepcopy(theirs)
    event = nobodys["epcisBody"]["eventList"][0]
    event["eventID"] = "urn:uuid:00000000-0000-4000-8000-0000000000aa"
    event["readPoint"]["id"] = "urn:epc:id:sgln:0614141.00999.0"
    event["bizLocation"]["id"] = "urn:epc:id:sgln:0614141.00998.0"
    assert _foreign_answer(api_client, theirs) == _foreign_answer(api_client, nobodys)
    assert not StockMove.objects.exists() and not Lot.objects.exists()
    assert set(EpcisEvent.objects.values_list("site_id", flat=True)) == {other.pk}


def test_a_viewer_cannot_capture(gs1, make_user, api_client):
    api_client.force_authenticate(make_user("viewer", gs1[0]))
    assert post(api_client, example("Example_9.6.2-ObjectEvent.jsonld")).status_code == 403


def test_api_key_needs_the_epcis_capture_scope(gs1, make_user, api_client):
    from tracker import services

    user = make_user("partner", gs1[0])
    _, reader = services.api_key_create(user=user, name="reader", scopes=["read_inventory"])
    _, writer = services.api_key_create(user=user, name="writer", scopes=["epcis_capture"])
    body = example("Example_9.6.2-ObjectEvent.jsonld")
    denied = api_client.post(
        CAPTURE, data=body, content_type="application/ld+json", HTTP_AUTHORIZATION=f"Bearer {reader}"
    )
    assert denied.status_code == 403
    ok = api_client.post(CAPTURE, data=body, content_type="application/ld+json", HTTP_AUTHORIZATION=f"Bearer {writer}")
    assert ok.status_code == 202, ok.content
    events = api_client.get(EVENTS, HTTP_AUTHORIZATION=f"Bearer {writer}")
    assert events.status_code == 403
    assert api_client.get(EVENTS, HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 200


# --------------------------------------------------------------------------- query


def _validate(doc: dict) -> None:
    errors = list(epcis2.validator().iter_errors(doc))
    assert not errors, [e.message for e in errors[:3]]


@pytest.fixture
def wo_life(db):
    """A work order's life: released, its three steps, completed into a lot, shipped."""
    site = site_with_gln("life", "9501101000018")
    plant = make_plant(site, prefix="L")
    Item.objects.filter(pk=plant.product.pk).update(gtin=gtin_of("9501101", "053000"))
    plant.product.refresh_from_db()
    from tests.factories.wip import WorkOrderFactory

    t0 = timezone.now() - dt.timedelta(hours=5)
    order = WorkOrderFactory(routing=plant.routing, bom=plant.bom, quantity=Decimal("2"), output_lot_code="L-LOT-1")
    wip.work_order_release(work_order=order, at=t0)
    for n, station in enumerate((plant.cut, plant.assemble, plant.test)):
        run = order.runs.get(sequence=(n + 1) * 10, status__in=["queued", "waiting"])
        wip.operation_arrive(workstation=station, work_order=order, occurred_at=t0 + dt.timedelta(minutes=30 * n + 1))
        run.refresh_from_db()
        wip.operation_start(run=run, at=t0 + dt.timedelta(minutes=30 * n + 2))
        wip.operation_complete(run=run, good_quantity=Decimal("2"), at=t0 + dt.timedelta(minutes=30 * n + 20))
        if n == 2:
            wip.inspection_record(
                run=run,
                at=t0 + dt.timedelta(minutes=30 * n + 25),
                results=[{"check": "visual", "passed": True}, {"check": "torque", "value": Decimal("11")}],
            )
    wip.work_order_complete(work_order=order, location=plant.stores, at=t0 + dt.timedelta(hours=2))
    from inventory import services as stock

    lot = Lot.objects.get(item=plant.product, code="L-LOT-1")
    stock.stock_ship(
        item=plant.product,
        quantity=Decimal("2"),
        location=plant.stores,
        lot=lot,
        reference="SO-9",
        occurred_at=t0 + dt.timedelta(hours=3),
    )
    return site, plant, order


def test_exported_work_order_life_validates(wo_life, make_user, api_client):
    site, plant, order = wo_life
    api_client.force_authenticate(make_user("plant manager", site))
    response = api_client.get(EVENTS, {"perPage": 1000})
    assert response.status_code == 200
    doc = response.json()
    _validate(doc)
    events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    steps = [e["bizStep"] for e in events]
    assert steps.count("arriving") >= 3 and "commissioning" in steps and "shipping" in steps
    produce = next(e for e in events if e["bizStep"] == "commissioning")
    assert produce["type"] == "TransformationEvent"
    assert produce["transformationID"].endswith(f".{order.number}")
    assert "L-LOT-1" in produce["outputQuantityList"][0]["epcClass"]
    issues = [e for e in events if e["type"] == "TransformationEvent" and "inputQuantityList" in e]
    assert issues and all(e["transformationID"] == produce["transformationID"] for e in issues)
    ship = next(e for e in events if e["bizStep"] == "shipping")
    assert ship["disposition"] == "in_transit"
    assert ship["bizTransactionList"][0]["bizTransaction"].endswith(":SO-9")
    assert all(
        e["readPoint"]["id"].startswith(("urn:epc:id:sgln:", "https://id.gs1.org/414/"))
        for e in events
        if "readPoint" in e
    )
    times = [e["eventTime"] for e in events]
    assert times == sorted(times)


def test_query_filters_and_paging(wo_life, make_user, api_client):
    site, plant, order = wo_life
    api_client.force_authenticate(make_user("plant manager", site))
    everything = api_client.get(EVENTS, {"perPage": 1000}).json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    # Paging walks the same events in the same order.
    seen, url, params = [], EVENTS, {"perPage": 4}
    while True:
        response = api_client.get(url, params)
        _validate(response.json())
        seen += response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        if "Link" not in response:
            break
        url, params = response["Link"].split(">")[0].lstrip("<"), None
    assert [e["eventID"] for e in seen] == [e["eventID"] for e in everything]

    def ids(**params):
        body = api_client.get(EVENTS, {**params, "perPage": 1000}).json()
        return body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]

    assert {e["type"] for e in ids(eventType="TransformationEvent")} == {"TransformationEvent"}
    assert {e["bizStep"] for e in ids(EQ_bizStep="shipping")} == {"shipping"}
    station = next(e for e in everything if e["bizStep"] == "arriving")["readPoint"]["id"]
    at_station = ids(EQ_readPoint=station)
    assert at_station and all(e["readPoint"]["id"] == station for e in at_station)
    assert all(e.get("bizLocation", {}).get("id") == station for e in ids(EQ_bizLocation=station))
    middle = everything[len(everything) // 2]["eventTime"]
    assert all(e["eventTime"] >= middle for e in ids(GE_eventTime=middle))
    assert all(e["eventTime"] < middle for e in ids(LT_eventTime=middle))
    lot_class = next(e for e in everything if e["bizStep"] == "shipping")["quantityList"][0]["epcClass"]
    assert {e["bizStep"] for e in ids(MATCH_anyEPCClass=lot_class)} >= {"shipping", "commissioning"}
    bad = api_client.get(EVENTS, {"GE_eventTime": "yesterday"})
    assert bad.status_code == 400 and bad.json()["code"] == "query_parameter_invalid"


def test_match_epc_finds_a_serial_units_moves(gs1, clerk, api_client, make_user):
    site, loc, items = gs1
    post(api_client, example("Example_9.6.1-ObjectEvent.jsonld"))
    api_client.force_authenticate(make_user("plant manager", site))
    body = api_client.get(EVENTS, {"MATCH_epc": "urn:epc:id:sgtin:0614141.107346.2018"}).json()
    _validate(body)
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(events) == 1 and events[0]["action"] == "ADD" and events[0]["bizStep"] == "receiving"
    assert events[0]["bizTransactionList"][0]["type"] == "po"


@covers("epcis-events GET")
def test_query_is_scoped_to_the_users_sites(wo_life, make_user, api_client):
    other = SiteFactory(code="other-q")
    api_client.force_authenticate(make_user("plant manager", other))
    body = api_client.get(EVENTS).json()
    assert body["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


def test_events_list_query_count_is_constant(wo_life, make_user, api_client, django_assert_num_queries):
    site, plant, order = wo_life
    user = make_user("plant manager", site)
    api_client.force_authenticate(user)
    api_client.get(EVENTS, {"perPage": 1})  # warm the permission cache of this user object

    def count(per_page: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(EVENTS, {"perPage": per_page})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])

    one, n_one = count(1)
    many, n_many = count(1000)
    assert n_one == 1 and n_many > 10
    assert one == many


def test_a_travelers_observation_at_a_station_is_an_arrival(db, make_user, api_client):
    from tests.factories.devices import TagAssignmentFactory, TagFactory
    from tests.factories.wip import WorkOrderFactory

    site = site_with_gln("trav", "9501101000018")
    plant = make_plant(site, prefix="T")
    order = WorkOrderFactory(routing=plant.routing, bom=plant.bom, quantity=Decimal("1"))
    wip.work_order_release(work_order=order)
    traveler = "urn:epc:id:giai:9501101.TRAV1"
    TagAssignmentFactory(
        tag=TagFactory(site=site, tag_id=traveler), target_kind="work_order", work_order=order, code=""
    )
    api_client.force_authenticate(make_user("plant manager", site))
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-11-18T10:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventID": "urn:uuid:7a1f0c0e-2f5b-4c55-9a3e-0d6c1b7a0001",
                    "eventTime": timezone.now().isoformat(),
                    "eventTimeZoneOffset": "+01:00",
                    "epcList": [traveler],
                    "action": "OBSERVE",
                    "bizStep": "arriving",
                    "readPoint": {"id": "urn:epc:id:sgln:9501101.00001.T-CUT"},
                }
            ]
        },
    }
    response = post(api_client, doc)
    assert response.status_code == 202, response.content
    # Release already queued step 10 at the cut station: the arrival is the same idempotent call a reader makes.
    assert EpcisEvent.objects.get().effects == {"arrivals_ignored": 1}
    run = order.runs.get(sequence=10)
    assert run.workstation == plant.cut and run.status == "queued"
