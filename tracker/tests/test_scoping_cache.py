"""The user's site ids are read once per user object and forgotten when its grants change."""

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm, remove_perm

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.models import Site, UserProfile
from tracker.scoping import granted_site_ids

pytestmark = pytest.mark.django_db


def codes(user) -> set[str]:
    return set(Site.objects.restrict(user, "view").values_list("code", flat=True))


def test_site_ids_are_read_once_per_user_object(django_assert_num_queries):
    a, b = SiteFactory(code="A"), SiteFactory(code="B")
    user = user_with_role("operator", a, b)
    with django_assert_num_queries(1):
        assert granted_site_ids(user) == tuple(sorted((a.pk, b.pk)))
    with django_assert_num_queries(0):
        granted_site_ids(user)


def test_grant_and_revoke_through_the_services_apply_to_the_same_user_object():
    a, b = SiteFactory(code="A"), SiteFactory(code="B")
    user = user_with_role("operator", a)
    assert codes(user) == {"A"}
    services.site_grant_access(site=b, user=user)
    assert codes(user) == {"A", "B"}
    services.site_revoke_access(site=a, user=user)
    assert codes(user) == {"B"}


def test_guardian_grants_and_group_membership_also_drop_the_cache():
    a, b = SiteFactory(code="A"), SiteFactory(code="B")
    user = user_with_role("operator", a)
    assert codes(user) == {"A"}
    assign_perm("tracker.view_site", user, b)
    assert codes(user) == {"A", "B"}
    # guardian's remove_perm deletes by queryset, so the signal never sees this user object:
    # revocations go through the service (a request's fresh user object reads them anyway).
    remove_perm("tracker.view_site", user, a)
    services.site_revoke_access(site=a, user=user)
    assert codes(user) == {"B"}
    team = Group.objects.create(name="team-a")
    assign_perm("tracker.view_site", team, a)
    user.groups.add(team)
    assert codes(user) == {"A", "B"}


def test_a_user_without_sites_sees_nothing():
    SiteFactory(code="A")
    user = user_with_role("operator")
    assert codes(user) == set()
    assert granted_site_ids(user) == ()


def test_the_current_site_is_picked_from_the_request_s_list_of_sites(rf, django_assert_num_queries):
    """The session's choice, else the profile's default, else the first by code; the header's list
    and the choice come from one query (the user's site ids read before)."""
    from django.contrib.sessions.backends.db import SessionStore

    from tracker.selectors import SESSION_SITE_KEY, current_site, visible_sites

    a, b = SiteFactory(code="SA"), SiteFactory(code="SB")
    SiteFactory(code="SC")  # a site the user was not granted
    user = user_with_role("operator", a, b)
    granted_site_ids(user)
    user.get_all_permissions()  # both read once per request by then (the page's permission check)

    def request(session_code: str | None = None):
        req = rf.get("/")
        req.user, req.session = user, SessionStore()
        if session_code:
            req.session[SESSION_SITE_KEY] = session_code
        return req

    chosen = request("SB")
    with django_assert_num_queries(1):
        assert current_site(chosen) == b
        assert [s.code for s in visible_sites(chosen)] == ["SA", "SB"]
    assert current_site(request("SC")) == a  # not granted: the first
    UserProfile.objects.create(user=user, default_site=b)
    user.refresh_from_db()
    assert current_site(request()) == b
