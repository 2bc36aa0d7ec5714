"""The levels list's lean rows (``.values_list()`` + ``level_rows``) answer exactly what the serializer would."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from inventory.api.serializers import StockLevelSerializer
from inventory.models import StockLevel
from tests.factories.inventory import ItemFactory, LotItemFactory, receive
from tests.factories.tracker import LocationFactory, user_with_role
from tests.scoping import results

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/inventory/levels/"


def _serialized(levels: list[StockLevel]) -> list[dict]:
    """The reference shape: the model serializer's output through the same JSON renderer."""
    request = APIRequestFactory().get(LEVELS)
    data = StockLevelSerializer(levels, many=True, context={"request": request}).data
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def stocked(site_a, site_b, bins):
    _, bin1, bin2 = bins
    bolt, milk = ItemFactory(sku="BOLT", unit="kg"), LotItemFactory(sku="MILK", unit="l")
    receive(bolt, bin1, "6.5")
    receive(bolt, bin2, 4)
    receive(milk, bin1, "1.2345", lot_code="M1")
    receive(milk, bin2, 3, lot_code="M2")
    receive(bolt, LocationFactory(site=site_b, kind="bin", code="B-BIN1"), 9)  # another site's: never listed
    StockLevel.objects.filter(item=milk, lot__code="M2").update(reserved=D("1.5"))
    return bolt, milk


@pytest.mark.parametrize(
    "query", ["", "?item=MILK", "?within=A-STORE", "?ordering=-on_hand", "?lot=M1", "?page_size=2"]
)
def test_rows_match_the_serializer(api_client, site_a, stocked, query):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    response = api_client.get(LEVELS + query)
    assert response.status_code == 200, response.content
    rows = results(response)
    assert rows, "the case lists something"
    expected = _serialized(
        list(
            StockLevel.objects.select_related("item", "location", "lot", "site").filter(
                pk__in=[row["id"] for row in rows]
            )
        )
    )
    by_id = {row["id"]: row for row in expected}
    assert rows == [by_id[row["id"]] for row in rows]
    assert {row["site"] for row in rows} == {"plant-a"}
    milk_m2 = [row for row in rows if row["lot"] == "M2"]
    if milk_m2:
        assert (milk_m2[0]["reserved"], milk_m2[0]["available"]) == ("1.5000", "1.5000")


def test_pagination_envelope_unchanged(api_client, site_a, stocked):
    api_client.force_authenticate(user_with_role("warehouse clerk", site_a))
    body = api_client.get(LEVELS + "?page_size=3").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4 and len(body["results"]) == 3 and body["next"].endswith("page=2&page_size=3")
