"""The same upload, receipt (same Idempotency-Key) and EPCIS document sent at once
by several clients: one effect each. PostgreSQL, real transactions, threads."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from devices.models import ReaderUpload
from inventory.models import Receipt, StockLevel, StockMove
from tests.factories.inventory import ItemFactory
from tests.factories.tracker import LocationFactory, SiteFactory, user_with_role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 6


def _at_once(send) -> list:
    """Run ``send(i)`` in CLIENTS threads released together; the responses."""
    barrier = threading.Barrier(CLIENTS)
    responses: list = [None] * CLIENTS

    def run(i):
        try:
            barrier.wait()
            responses[i] = send(i)
        except Exception as exc:  # reported by the assertion below
            responses[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [r for r in responses if isinstance(r, Exception)], responses
    return responses


def test_same_upload_from_several_clients_is_stored_and_processed_once():
    from tests.faults.pipeline_world import bodies, clean_snapshot, make_world, snapshot

    clean = clean_snapshot(51, 1)
    site, reader, secret = make_world(52)
    body = bodies(52, 1)[0]

    def send(_):
        return APIClient().generic(
            "POST",
            "/api/v1/devices/uploads/",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    responses = _at_once(send)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * (CLIENTS - 1) + [202], codes
    assert len({r.json()["id"] for r in responses}) == 1
    assert ReaderUpload.objects.filter(device=reader).count() == 1
    assert snapshot(site, 52) == clean  # processed (eagerly, after commit) exactly once


def test_same_receipt_with_one_idempotency_key_posts_once():
    site = SiteFactory(code="conc-r")
    LocationFactory(site=site, kind="bin", code="CR-BIN")
    ItemFactory(sku="CR-1")
    user = user_with_role("warehouse clerk", site)
    body = {
        "site": "conc-r",
        "reference": "PO-CONC",
        "partner": "Acme",
        "lines": [{"item": "CR-1", "quantity": "7", "location": "CR-BIN"}],
    }

    def send(_):
        client = APIClient()
        client.force_authenticate(user)
        return client.post("/api/v1/inventory/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-conc-1")

    responses = _at_once(send)
    ok = [r for r in responses if r.status_code == 201]
    # Every client gets the one receipt (a replay) or a 409 "in progress" it may retry; never a second receipt.
    assert ok and all(r.status_code in (201, 409) for r in responses), [(r.status_code, r.content) for r in responses]
    assert len({r.json()["id"] for r in ok}) == 1
    assert Receipt.objects.filter(reference="PO-CONC").count() == 1
    assert StockMove.objects.filter(item__sku="CR-1").count() == 1
    assert StockLevel.objects.get(item__sku="CR-1", location__code="CR-BIN").on_hand == Decimal("7")


def test_same_epcis_document_from_several_clients_takes_effect_once():
    from devices.epcis.mapping import gln_of, gtin_of
    from devices.epcis.models import EpcisEvent
    from devices.tests.test_epcis import CAPTURE, example
    from inventory.models import Item
    from tests.factories.inventory import LotItemFactory

    site = SiteFactory(code="conc-e")
    LocationFactory(site=site, code="RECV-RP", kind="zone", gln=gln_of("0614141", "00777"))
    recv = LocationFactory(site=site, code="RECV", kind="zone", gln=gln_of("0614141", "00888"))
    bulk = LotItemFactory(sku="CE-BULK", unit=Item.Unit.KG, gtin=gtin_of("4012345", "012345"))
    user = user_with_role("warehouse clerk", site)
    body = example("Example_9.6.2-ObjectEvent.jsonld")

    def send(_):
        client = APIClient()
        client.force_authenticate(user)
        return client.post(CAPTURE, data=body, content_type="application/ld+json")

    responses = _at_once(send)
    assert all(r.status_code in (202, 409) for r in responses), [(r.status_code, r.content) for r in responses]
    assert any(r.status_code == 202 for r in responses)
    assert EpcisEvent.objects.count() == 1
    assert StockMove.objects.filter(item=bulk).count() == 1
    assert StockLevel.objects.get(item=bulk, location=recv).on_hand == Decimal("200")
