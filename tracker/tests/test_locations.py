from __future__ import annotations

import pytest

from tests.factories.tracker import LocationFactory, SiteFactory
from tracker import services
from tracker.errors import Conflict, ValidationFailed
from tracker.models import Location

pytestmark = pytest.mark.django_db


def test_site_gets_one_virtual_location_of_each_kind():
    site = SiteFactory(code="p1")
    kinds = set(Location.objects.filter(site=site, is_virtual=True).values_list("kind", flat=True))
    assert kinds == {"supplier", "customer", "production", "scrap", "adjustment", "transit"}
    assert services.virtual_location(site=site, kind="scrap").code == "P1-SCRAP"


def test_subtree_is_a_path_prefix_and_moves_rewrite_descendants():
    site = SiteFactory()
    area = LocationFactory(site=site, kind="area", code="A")
    zone = LocationFactory(site=site, kind="zone", code="Z", parent=area)
    bin_ = LocationFactory(site=site, kind="bin", code="B", parent=zone)
    other = LocationFactory(site=site, kind="area", code="O")
    assert set(Location.objects.subtree(area).values_list("code", flat=True)) == {"A", "Z", "B"}
    assert bin_.depth == 2
    services.location_move(location=zone, new_parent=other)
    assert set(Location.objects.subtree(other).values_list("code", flat=True)) == {"O", "Z", "B"}
    assert set(Location.objects.subtree(area).values_list("code", flat=True)) == {"A"}
    assert [loc.code for loc in Location.objects.get(code="B").ancestors()] == ["O", "Z", "B"]


def test_location_rules():
    site, other_site = SiteFactory(), SiteFactory()
    area = LocationFactory(site=site, kind="area", code="A1")
    with pytest.raises(Conflict):
        services.location_create(site=site, code="A1", name="dup", kind="area")
    with pytest.raises(ValidationFailed):
        services.location_create(site=other_site, code="X", name="x", kind="bin", parent=area)
    with pytest.raises(ValidationFailed):
        services.location_create(site=site, code="V", name="v", kind="scrap")
    with pytest.raises(ValidationFailed):
        services.location_move(location=area, new_parent=LocationFactory(site=site, kind="zone", parent=area))


def test_unknown_action_denies_even_a_superuser():
    from tests.factories.tracker import user_with_role

    site = SiteFactory()
    admin = user_with_role(None, is_superuser=True)
    assert Location.objects.restrict(admin, "view").filter(site=site).exists()
    assert not Location.objects.restrict(admin, "frobnicate").exists()
