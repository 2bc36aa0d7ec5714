"""The permission matrix every scoped endpoint and page inherits, and the
declarations that let ``tests/test_scoping_coverage.py`` prove it covers every route.

``ScopedEndpointMatrix`` subclasses declare how to make one object in a site
and where its list and detail live; the inherited tests then check, for two
sites and every role, that users see their own site's objects only, that
another site's object is a 404, that a user without a role (or without a site)
sees nothing and that anonymous callers are refused. ``detail_reads`` and
``detail_writes`` extend that to the detail's extra actions: another site's
object is a 404 there too, and a refused write changes nothing.

Any other test that proves a route keeps to the user's sites says so with
``@covers("<url name> <METHOD>...")``; both kinds carry the ``scoping`` marker,
so ``pytest -m scoping`` runs (and counts) every scoping case.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import resolve
from rest_framework.test import APIClient

from tests.factories.tracker import SiteFactory, user_with_role
from tracker.roles import ROLE_NAMES

SCOPING = pytest.mark.scoping

#: Methods a coverage key may name; CONNECT stands for opening a websocket.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "CONNECT"})


def covers(*keys: str) -> Callable[[Any], Any]:
    """Declare the routes a scoping test checks: ``"<url name> <METHOD> [<METHOD>...]"``.

    A GET key promises "another site's objects are a 404, lists show the
    user's site only"; a write key promises "a write naming another site's
    object is refused and nothing is written". The test also gets the
    ``scoping`` marker.
    """
    parsed = frozenset(pair for key in keys for pair in _parse_key(key))

    def mark(obj: Any) -> Any:
        obj.scoping_covers = frozenset(getattr(obj, "scoping_covers", frozenset())) | parsed
        return SCOPING(obj)

    return mark


def _parse_key(key: str) -> set[tuple[str, str]]:
    name, *methods = key.split()
    if not methods or not set(methods) <= METHODS:
        raise ValueError(f"covers({key!r}): give '<url name> <METHOD>...' with METHOD in {sorted(METHODS)}")
    return {(name, method) for method in methods}


def results(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


# --- "nothing written" -------------------------------------------------------------------------

#: Rows a refused request must leave alone: every model of the project's apps but
#: the bookkeeping that any request may touch (audit trail, keys' last use, idempotency).
_UNWATCHED = {
    "tracker.AuditEvent",
    "tracker.ApiKey",
    "devices.DeviceKey",
    "tracker.IdempotencyRecord",
    "tracker.UserProfile",
    "tracker.SiteUserObjectPermission",
    "tracker.SiteGroupObjectPermission",
}
_WATCHED_APPS = ("tracker", "inventory", "wip", "devices", "webhooks")


def _watched_models() -> list:
    return [
        model
        for label in _WATCHED_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.label not in _UNWATCHED
    ]


def database_state() -> dict[str, list[dict]]:
    """Every watched row, by model (test databases are small: this is cheap)."""
    return {m._meta.label: list(m._default_manager.order_by("pk").values()) for m in _watched_models()}


@contextlib.contextmanager
def nothing_written() -> Iterator[None]:
    """Fail, naming the models, if the block creates, changes or deletes any watched row."""
    before = database_state()
    yield
    after = database_state()
    changed = sorted(label for label in before if before[label] != after[label])
    assert not changed, f"a refused request wrote to {changed}"


# --- the endpoint matrix -----------------------------------------------------------------------


@dataclass(frozen=True)
class DetailWrite:
    """A write on one object's URL: ``suffix`` after the detail URL, its body (or a
    function of the object), and ``prepare``, run on both sites' objects first
    (e.g. place the hold that a release-hold lifts)."""

    method: str = "POST"
    suffix: str = ""
    body: dict | Callable[[Any], dict] = field(default_factory=dict)
    prepare: Callable[[Any], None] | None = None

    def payload(self, obj: Any) -> dict:
        return self.body(obj) if callable(self.body) else dict(self.body)


class ScopedEndpointMatrix:
    pytestmark = [SCOPING, pytest.mark.django_db]

    #: roles expected to see this endpoint's objects in their own site
    viewer_roles: tuple[str, ...] = ROLE_NAMES
    list_url: str = ""
    #: field of a list row that identifies the object
    key_field: str = "code"
    #: GET sub-resources of a detail: url name -> path after the detail URL
    detail_reads: dict[str, str] = {}
    #: writes on a detail (its update/delete or extra actions): url name -> DetailWrite
    #: (key "<url name> <METHOD>" when one url takes several writes)
    detail_writes: dict[str, DetailWrite] = {}
    #: a role that may read and write this endpoint's objects in its own site
    writer_role: str = "plant manager"

    def make_object(self, site) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def object_key(self, obj) -> str:
        return str(getattr(obj, self.key_field))

    def detail_url(self, obj) -> str:
        return f"{self.list_url}{self.object_key(obj)}/"

    @classmethod
    def covered_routes(cls) -> set[tuple[str, str]]:
        """(url name, method) pairs this matrix checks: its list and detail, plus
        ``detail_reads`` and ``detail_writes``. DRF routers name a list
        ``<basename>-list`` and its detail ``<basename>-detail``."""
        list_name = resolve(urlsplit(cls.list_url).path).view_name
        routes = {(list_name, "GET"), (list_name.removesuffix("-list") + "-detail", "GET")}
        routes |= {(name, "GET") for name in cls.detail_reads}
        routes |= {(key.split()[0], write.method) for key, write in cls.detail_writes.items()}
        return routes

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A matrix without detail reads or writes has no such tests (rather than a skipped one each).
        super().__init_subclass__(**kwargs)
        for declared, name in (
            (cls.detail_reads, "test_detail_read_of_another_sites_object_is_not_found"),
            (cls.detail_writes, "test_write_on_another_sites_object_is_not_found_and_writes_nothing"),
        ):
            setattr(cls, name, getattr(ScopedEndpointMatrix, name) if declared else None)

    def pytest_generate_tests(self, metafunc):
        # pytest asks the class itself: each subclass gets one case per declared read/write.
        if "detail_read" in metafunc.fixturenames:
            metafunc.parametrize("detail_read", sorted(self.detail_reads))
        if "detail_write" in metafunc.fixturenames:
            metafunc.parametrize("detail_write", sorted(self.detail_writes))

    @pytest.fixture(scope="class")
    @classmethod
    def world(cls, django_db_setup, django_db_blocker):
        """Two sites and an object in each, built once per class (per xdist worker).

        The rows live in an outer transaction that every test of the class runs
        inside (each test's own transaction is a savepoint in it, rolled back after
        the test), and the whole is rolled back when the class is done, like
        ``TestCase.setUpTestData``.
        """
        with django_db_blocker.unblock(), transaction.atomic():
            site_a = SiteFactory(code="matrix-a")
            site_b = SiteFactory(code="matrix-b")
            maker = cls()
            yield site_a, site_b, maker.make_object(site_a), maker.make_object(site_b)
            transaction.set_rollback(True)

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

    def test_detail_read_of_another_sites_object_is_not_found(self, world, detail_read):
        site_a, _, obj_a, obj_b = world
        client = self._client(user_with_role(self.writer_role, site_a))
        suffix = self.detail_reads[detail_read]
        assert client.get(self.detail_url(obj_b) + suffix).status_code == 404
        assert client.get(self.detail_url(obj_a) + suffix).status_code == 200

    def test_write_on_another_sites_object_is_not_found_and_writes_nothing(self, world, detail_write):
        site_a, _, obj_a, obj_b = world
        client = self._client(user_with_role(self.writer_role, site_a))
        write = self.detail_writes[detail_write]
        if write.prepare is not None:
            write.prepare(obj_a)
            write.prepare(obj_b)
        send = getattr(client, write.method.lower())
        payload = write.payload(obj_b)
        with nothing_written():
            refused = send(self.detail_url(obj_b) + write.suffix, payload, format="json")
        assert refused.status_code == 404, refused.content
        assert refused["Content-Type"].startswith("application/problem+json")
        # The control: the same request on the user's own object reaches the handler,
        # so the 404 above is the scoping, not a wrong URL or a missing permission.
        control = send(self.detail_url(obj_a) + write.suffix, write.payload(obj_a), format="json")
        assert control.status_code not in (403, 404, 405), control.content


def assert_page_scoped(client_for: Callable, url: str, own_text: str, other_text: str) -> None:
    response = client_for.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert own_text in body
    assert other_text not in body
