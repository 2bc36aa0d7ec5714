"""Service transactions: all-or-nothing everywhere; a savepoint only where a caller may go on."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tracker.models import Site
from tracker.transactions import request_transaction, service_atomic

pytestmark = pytest.mark.django_db


class Refused(Exception):
    pass


def _site(code: str) -> Site:
    return Site.objects.create(code=code, name=code, time_zone="UTC")


@service_atomic
def _make(code: str, *, fail: bool = False) -> Site:
    site = _site(code)
    if fail:
        raise Refused(code)
    return site


@service_atomic
def _make_each(codes: list[str], bad: str) -> list[str]:
    """A service that goes on past a nested service's error (as a shipment past a bad line)."""
    made = []
    for code in codes:
        try:
            _make(code, fail=code == bad)
            made.append(code)
        except Refused:
            pass
    return made


def _savepoints(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" in q["sql"].upper()]


def test_a_service_in_a_request_transaction_takes_no_savepoint():
    with CaptureQueriesContext(connection) as outside:
        _make("a")
    with request_transaction():
        with CaptureQueriesContext(connection) as inside:
            _make("b")
    assert len(_savepoints(outside)) == 2  # the test's own transaction around it: SAVEPOINT, RELEASE
    assert _savepoints(inside) == []


def test_a_services_error_rolls_back_the_whole_request():
    with pytest.raises(Refused), request_transaction():
        _site("before")
        _make("bad", fail=True)
    assert not Site.objects.filter(code__in=["before", "bad"]).exists()


def test_outside_a_request_a_caught_services_error_undoes_only_the_service():
    with transaction.atomic():  # a caller's block that goes on after the error
        _site("kept")
        with pytest.raises(Refused):
            _make("undone", fail=True)
        _site("after")
    assert set(Site.objects.filter(code__in=["kept", "undone", "after"]).values_list("code", flat=True)) == {
        "kept",
        "after",
    }


def test_services_called_by_a_service_keep_their_savepoints_in_a_request():
    with request_transaction():
        made = _make_each(["x", "y", "z"], bad="y")
        _site("after")
    assert made == ["x", "z"]
    assert set(Site.objects.filter(code__in=["x", "y", "z", "after"]).values_list("code", flat=True)) == {
        "x",
        "z",
        "after",
    }


def test_the_request_flag_ends_with_the_request():
    with request_transaction():
        _make("inner")
    with CaptureQueriesContext(connection) as after:
        _make("outer")
    assert len(_savepoints(after)) == 2
