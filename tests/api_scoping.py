"""Helpers for the API scoping cases that name another site's objects in a request body."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.scoping import nothing_written
from tests.scoping_world import TwoSites


def client_of(w: TwoSites, role: str = "plant manager") -> APIClient:
    """An API client of a user holding site A only."""
    client = APIClient()
    client.force_authenticate(w.user(role))
    return client


def refused(
    client: APIClient,
    method: str,
    url: str,
    body=None,
    *,
    field: str | None = None,
    status: int = 400,
    problem: bool = True,
    **kwargs,
):
    """The request is refused (``status``; for a 400 the problem names ``field``) and writes nothing.
    ``problem=False``: an answer that is not problem+json (a CSV import's row report)."""
    send = getattr(client, method.lower())
    with nothing_written():
        response = send(url, body, format="json", **kwargs) if body is not None else send(url, **kwargs)
    assert response.status_code == status, (response.status_code, response.content[:800])
    if problem:
        assert response["Content-Type"].startswith("application/problem+json")
    if field is not None:
        assert field in (response.json().get("errors") or {}), response.json()
    return response


def accepted(client: APIClient, method: str, url: str, body=None, **kwargs):
    """The control: the same request naming the user's own site's objects goes through."""
    send = getattr(client, method.lower())
    response = send(url, body, format="json", **kwargs) if body is not None else send(url, **kwargs)
    assert 200 <= response.status_code < 300, (response.status_code, response.content[:800])
    return response
