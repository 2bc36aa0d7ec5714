"""What EPCIS capture records besides ledger effects, with GS1's published examples
(``corpus/epcis/``): association links, sensor reports with their exceptions and
alarm flags, error declarations and their corrective events, and identifiers kept
unresolved until their master data arrives."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from devices.epcis.mapping import gln_of, gtin_of
from devices.epcis.models import Association, EpcisEvent, EpcisIdentifier, EpcisOutcome, EpcisSensorReport
from devices.epcis.unresolved import epcis_identifiers_resolve
from devices.models import DeviceKind
from inventory.models import Item, StockMove
from tests.factories.devices import DeviceFactory
from tests.factories.inventory import LotItemFactory
from tests.factories.tracker import LocationFactory, SiteFactory

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).resolve().parent / "corpus" / "epcis"
CAPTURE = "/api/v1/epcis/capture"
SENSOR = "urn:epc:id:giai:4000001.12345"
ASSET = "urn:epc:id:grai:4012345.55555.987"


def doc(name: str) -> dict:
    return json.loads((CORPUS / name).read_bytes())


def post(client, body: dict):
    response = client.post(CAPTURE, data=json.dumps(body), content_type="application/ld+json")
    assert response.status_code == 202, response.content
    return response.json()["counts"]


@pytest.fixture
def plant(db, make_user, api_client):
    site = SiteFactory(code="rec")
    api_client.force_authenticate(make_user("warehouse clerk", site))
    return site


def test_association_links_a_sensor_to_an_asset_until_it_is_removed(plant, api_client):
    sensor = DeviceFactory(site=plant, device_id=SENSOR, kind=DeviceKind.SENSOR, upload_format="")
    counts = post(api_client, doc("AssociationEvent-a.jsonld"))
    assert counts["associations"] == 1 and counts["recorded"] == 1
    link = Association.objects.get()
    assert (link.parent, link.child, link.device, link.site) == (ASSET, SENSOR, sensor, plant)
    assert link.associated_at == dt.datetime(2019, 11, 1, 13, 0, tzinfo=dt.UTC) and link.dissociated_at is None
    post(api_client, doc("AssociationEvent-c.jsonld"))  # DELETE of that child
    link.refresh_from_db()
    assert link.dissociated_at == dt.datetime(2019, 11, 3, 13, 0, tzinfo=dt.UTC)


def test_association_of_class_quantities_then_all_children_removed(plant, api_client):
    post(api_client, doc("AssociationEvent-e.jsonld"))
    rows = Association.objects.filter(parent=ASSET, dissociated_at__isnull=True)
    assert sorted((r.child, r.quantity) for r in rows) == [
        ("urn:epc:class:lgtin:4012345.005555.456", Decimal("600")),
        ("urn:epc:class:lgtin:4023333.002000.123", Decimal("600")),
    ]
    post(api_client, doc("AssociationEvent-d.jsonld"))  # DELETE without children: all of the parent's
    assert not Association.objects.filter(parent=ASSET, dissociated_at__isnull=True).exists()


def test_sensor_reports_keep_their_exceptions_and_alarm_flags(plant, api_client):
    counts = post(api_client, doc("SensorDataExample9.jsonld"))
    assert counts["sensor_reports"] == 2
    error, alarm = EpcisSensorReport.objects.order_by("pk")
    assert (error.type, error.exception, error.alarm) == ("Temperature", "ERROR_CONDITION", False)
    assert error.body["uriValue"] == "https://example.com/ErrorCode-A827"
    assert (alarm.type, alarm.exception, alarm.alarm, alarm.boolean_value) == (
        "AbsoluteHumidity",
        "ALARM_CONDITION",
        True,
        True,
    )
    assert error.site == plant


def test_sensor_reports_keep_values_devices_and_times(plant, api_client):
    post(api_client, doc("SensorDataExample1.jsonld"))
    temperatures = EpcisSensorReport.objects.filter(type="Temperature").order_by("time")
    assert [r.value for r in temperatures] == [Decimal("26.0"), Decimal("26.1"), Decimal("26.2")]
    assert {r.device_id for r in temperatures} == {"urn:epc:id:giai:4000001.111"}
    assert temperatures[0].time == dt.datetime(2019, 4, 2, 13, 5, tzinfo=dt.UTC)
    assert EpcisSensorReport.objects.count() == 12


def test_an_event_declared_erroneous_as_sent_is_marked_and_its_corrective_event_linked(plant, api_client):
    counts = post(api_client, doc("ErrorDeclarationAndCorrectiveEvent.jsonld"))
    assert counts["events"] == 2
    wrong = EpcisEvent.objects.get(event_id="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8")
    right = EpcisEvent.objects.get(event_id="urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8")
    assert wrong.error_reason == "incorrect_data" and wrong.outcome == EpcisOutcome.RECORDED
    assert wrong.error_declared_at == dt.datetime(2020, 1, 14, 23, 0, tzinfo=dt.UTC)
    assert wrong.corrective_event_ids == [right.event_id] and wrong.effects["error_declared"] == 1
    assert right.corrects == wrong.event_id and right.error_declared_at is None


@pytest.fixture
def received(plant, api_client):
    """9.6.2's lot received at a location of the plant."""
    recv = LocationFactory(site=plant, code="RECV", kind="zone", gln=gln_of("0614141", "00888"))
    LocationFactory(site=plant, code="RECV-RP", kind="zone", gln=gln_of("0614141", "00777"))
    LotItemFactory(sku="REC-BULK", unit=Item.Unit.KG, gtin=gtin_of("4012345", "012345"))
    body = doc("Example_9.6.2-ObjectEvent.jsonld")
    post(api_client, body)
    return recv, body


def test_an_error_declaration_sent_later_with_the_same_event_id_marks_the_event(received, api_client):
    recv, body = received
    original = EpcisEvent.objects.get()
    moves = StockMove.objects.count()
    declared = copy.deepcopy(body)
    corrective_id = "urn:uuid:5f5c2f1c-1111-4c1c-9a9a-000000000001"
    declared["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2025-01-02T10:00:00Z",
        "reason": "https://ref.gs1.org/cbv/ER-incorrect_data",
        "correctiveEventIDs": [corrective_id],
    }
    counts = post(api_client, declared)
    assert counts["declared"] == 1 and counts["duplicate"] == 0
    original.refresh_from_db()
    assert original.error_reason == "incorrect_data" and original.corrective_event_ids == [corrective_id]
    assert StockMove.objects.count() == moves  # the ledger is corrected by the corrective event, not here
    corrective = copy.deepcopy(body)
    event = corrective["epcisBody"]["eventList"][0]
    event["eventID"], event["quantityList"][0]["quantity"] = corrective_id, 150
    event["action"] = "OBSERVE"
    post(api_client, corrective)
    assert EpcisEvent.objects.get(event_id=corrective_id).corrects == original.event_id
    # Declared twice: the second is a plain duplicate.
    assert post(api_client, declared)["duplicate"] == 1


def test_unknown_identifiers_wait_and_resolve_when_master_data_arrives(plant, api_client):
    other = SiteFactory(code="rec-other")
    LocationFactory(site=other, code="RECV", kind="zone", gln=gln_of("0614141", "00888"))  # not the sender's
    counts = post(api_client, doc("Example_9.6.2-ObjectEvent.jsonld"))
    assert counts["unknown"] == 1 and counts["unresolved"] == 3
    pending = {(i.role, i.kind, i.key) for i in EpcisIdentifier.objects.all()}
    assert pending == {
        ("quantityList", "lot", f"01/{gtin_of('4012345', '012345')}/10/998877"),
        ("readPoint", "location", f"414/{gln_of('0614141', '00777')}"),
        ("bizLocation", "location", f"414/{gln_of('0614141', '00888')}"),
    }
    assert epcis_identifiers_resolve() == 0  # another site's location resolves nothing
    item = LotItemFactory(sku="LATE", unit=Item.Unit.KG, gtin=gtin_of("4012345", "012345"))
    recv = LocationFactory(site=plant, code="REC-RECV", kind="zone", gln=gln_of("0614141", "00888"))
    assert epcis_identifiers_resolve() == 2
    lot = EpcisIdentifier.objects.get(role="quantityList")
    place = EpcisIdentifier.objects.get(role="bizLocation")
    assert (lot.item, place.location) == (item, recv) and lot.resolved_at and place.resolved_at
    assert EpcisIdentifier.objects.get(role="readPoint").resolved_at is None
    assert epcis_identifiers_resolve() == 0  # idempotent
    from devices.tasks import resolve_epcis_identifiers

    LocationFactory(site=plant, code="REC-RP", kind="zone", gln=gln_of("0614141", "00777"))
    assert resolve_epcis_identifiers() == 1  # the periodic task (devices.schedule) does the same


def test_identifier_of_another_site_is_kept_like_an_unknown_one(plant, api_client):
    other = SiteFactory(code="rec-far")
    DeviceFactory(site=other, device_id=SENSOR, kind=DeviceKind.SENSOR, upload_format="")
    post(api_client, doc("AssociationEvent-a.jsonld"))
    assert Association.objects.get().device is None  # another site's sensor is not linked
    kinds = set(EpcisIdentifier.objects.values_list("role", "kind"))
    assert ("childEPCs", "asset") in kinds and ("parentID", "container") in kinds


def test_a_serial_of_another_site_is_observed_as_one_that_does_not_exist(plant, api_client):
    from tests.factories.inventory import SerialItemFactory, receive

    other = SiteFactory(code="rec-theirs")
    item = SerialItemFactory(sku="REC-SER", gtin=gtin_of("0614141", "107346"))
    receive(item, LocationFactory(site=other, code="THEIR-BIN", kind="bin"), 1, serials=["2017"])
    body = doc("Example_9.6.1-with-comment.jsonld")  # shipping 2017 and 2018 (2018 exists nowhere)
    event = body["epcisBody"]["eventList"][0]
    answers = []
    for serial, event_id in (
        ("2017", "urn:uuid:0e0e0e0e-0000-4000-8000-000000000001"),
        ("2018", "urn:uuid:0e0e0e0e-0000-4000-8000-000000000002"),
    ):
        event["epcList"], event["eventID"] = [f"urn:epc:id:sgtin:0614141.107346.{serial}"], event_id
        single = copy.deepcopy(body)
        single["epcisBody"]["eventList"] = [event]
        answers.append(post(api_client, single))
        answers[-1].pop("duplicate")
    assert answers[0] == answers[1] and answers[0]["unknown"] == 1
    assert not StockMove.objects.filter(kind="ship").exists()
