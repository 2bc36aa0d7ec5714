"""The permission matrix every scoped endpoint and page inherits.

``ScopedEndpointMatrix`` subclasses declare how to make one object in a site
and where its list and detail live; the inherited tests then check, for two
sites and every role, that users see their own site's objects only, that
another site's object is a 404, that a user without a role (or without a site)
sees nothing and that anonymous callers are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tracker.roles import ROLE_NAMES


def results(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


class ScopedEndpointMatrix:
    #: roles expected to see this endpoint's objects in their own site
    viewer_roles: tuple[str, ...] = ROLE_NAMES
    list_url: str = ""
    #: field of a list row that identifies the object
    key_field: str = "code"

    def make_object(self, site) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def object_key(self, obj) -> str:
        return str(getattr(obj, self.key_field))

    def detail_url(self, obj) -> str:
        return f"{self.list_url}{self.object_key(obj)}/"

    @pytest.fixture
    def world(self, db):
        site_a = SiteFactory(code="matrix-a")
        site_b = SiteFactory(code="matrix-b")
        return site_a, site_b, self.make_object(site_a), self.make_object(site_b)

    def _client(self, user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    @pytest.mark.parametrize("role", ROLE_NAMES)
    def test_role_sees_own_site_only(self, world, role):
        site_a, site_b, obj_a, obj_b = world
        client = self._client(user_with_role(role, site_a))
        listed = {str(row[self.key_field]) for row in results(client.get(self.list_url))}
        assert self.object_key(obj_b) not in listed
        assert client.get(self.detail_url(obj_b)).status_code == 404
        if role in self.viewer_roles:
            assert self.object_key(obj_a) in listed
            assert client.get(self.detail_url(obj_a)).status_code == 200
        else:
            assert self.object_key(obj_a) not in listed
            assert client.get(self.detail_url(obj_a)).status_code == 404

    def test_user_without_role_sees_nothing(self, world):
        site_a, _, obj_a, _ = world
        client = self._client(user_with_role(None, site_a))
        response = client.get(self.list_url)
        assert response.status_code == 200
        assert results(response) == []
        assert client.get(self.detail_url(obj_a)).status_code == 404

    def test_role_without_site_sees_nothing(self, world):
        _, _, obj_a, _ = world
        client = self._client(user_with_role("viewer"))
        assert results(client.get(self.list_url)) == []
        assert client.get(self.detail_url(obj_a)).status_code == 404

    def test_anonymous_is_refused(self, world):
        response = APIClient().get(self.list_url)
        assert response.status_code in (401, 403)
        assert response["Content-Type"].startswith("application/problem+json")

    def test_superuser_sees_both(self, world):
        _, _, obj_a, obj_b = world
        admin = user_with_role(None, is_superuser=True, is_staff=True)
        listed = {str(row[self.key_field]) for row in results(self._client(admin).get(self.list_url))}
        assert {self.object_key(obj_a), self.object_key(obj_b)} <= listed


def assert_page_scoped(client_for: Callable, url: str, own_text: str, other_text: str) -> None:
    response = client_for.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert own_text in body
    assert other_text not in body
