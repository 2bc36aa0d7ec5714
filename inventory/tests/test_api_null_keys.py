"""A NUL character in a natural key is a 400 naming the field, never a 500 (PostgreSQL
refuses NUL in any query, so the key must not reach one)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories.tracker import user_with_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/inventory/receipts/", "/api/v1/inventory/shipments/"])
@pytest.mark.parametrize("field", ["item", "location"])
def test_nul_in_a_lines_natural_key_is_a_validation_error(site_a, url, field):
    client = APIClient()
    client.force_authenticate(user_with_role("plant manager", site_a))
    line = {"item": "SKU-1", "location": "BIN-1", "quantity": "1", field: "A\x00B"}
    response = client.post(url, {"reference": "R-1", "site": site_a.code, "lines": [line]}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["lines"]["0"][field] == ["Null characters are not allowed."]
