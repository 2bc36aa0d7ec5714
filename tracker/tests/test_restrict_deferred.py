"""restrict() decides at once and builds its condition when the queryset is first used: every
way of reading the queryset sees the condition, exactly as an eager filter would write it."""

from __future__ import annotations

import pytest

from tests.factories.tracker import LocationFactory, user_with_role
from tracker.models import Location

pytestmark = pytest.mark.django_db


def test_every_use_of_a_restricted_queryset_is_restricted(site_a, site_b):
    mine = LocationFactory(site=site_a, kind="bin", code="R-A1")
    theirs = LocationFactory(site=site_b, kind="bin", code="R-B1")
    user = user_with_role("viewer", site_a)
    restricted = Location.objects.restrict(user, "view")
    eager = Location.objects.filter(site__in=(site_a.pk,))
    assert str(restricted.query) == str(eager.query)
    restricted = Location.objects.restrict(user, "view")  # a fresh one for each use below
    assert set(restricted.values_list("code", flat=True)) >= {"R-A1"}
    assert "R-B1" not in set(Location.objects.restrict(user, "view").values_list("code", flat=True))
    assert Location.objects.restrict(user, "view").filter(pk=theirs.pk).count() == 0
    assert not Location.objects.restrict(user, "view").filter(code="R-B1").exists()
    assert Location.objects.restrict(user, "view").get(pk=mine.pk) == mine
    assert list(Location.objects.restrict(user, "view")[:100]) == list(eager.order_by("path")[:100])
    as_subquery = Location.objects.filter(pk__in=Location.objects.restrict(user, "view").values("pk"))
    assert theirs not in as_subquery and mine in as_subquery
    combined = Location.objects.restrict(user, "view") | Location.objects.none()
    assert theirs not in combined
    union = Location.objects.restrict(user, "view").order_by().union(Location.objects.none().order_by())
    assert theirs not in union and mine in union
    assert Location.objects.restrict(user_with_role(None, site_a), "view").count() == 0  # no role: none()


def test_what_cannot_be_filtered_is_restricted_to_nothing(site_a, site_b):
    """As an eager filter() refuses a union or a slice, restrict() refuses it: it fails closed."""
    LocationFactory(site=site_a, kind="bin", code="U-A1")
    LocationFactory(site=site_b, kind="bin", code="U-B1")
    user = user_with_role("viewer", site_a)
    union = Location.objects.filter(code="U-A1").order_by().union(Location.objects.filter(code="U-B1").order_by())
    assert list(union.restrict(user, "view")) == []
    assert list(Location.objects.all()[:5].restrict(user, "view")) == []
