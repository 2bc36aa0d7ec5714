from __future__ import annotations

import pytest

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services, versions
from tracker.models import Alert, AuditEvent

pytestmark = pytest.mark.django_db


def test_alert_raised_once_per_subject_then_cleared_and_reraised(django_capture_on_commit_callbacks):
    site = SiteFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, created = services.alert_raise(site=site, kind="low_stock", subject="item:A", message="low")
    # The broadcast after commit (the data versions' bumps are after-commit callbacks of their own).
    assert created and len([c for c in callbacks if not isinstance(c, versions._Bump)]) == 1
    again, created = services.alert_raise(site=site, kind="low_stock", subject="item:A", message="lower")
    assert not created and again.pk == first.pk and again.occurrences == 2 and again.message == "lower"
    assert services.alert_clear(site=site, kind="low_stock", subject="item:A").cleared_at is not None
    assert services.alert_clear(site=site, kind="low_stock", subject="item:A") is None
    third, created = services.alert_raise(site=site, kind="low_stock", subject="item:A", message="low again")
    assert created and third.pk != first.pk
    assert Alert.objects.open().count() == 1


def test_acknowledge_by_api_is_recorded_and_scoped(api_client):
    site_a, site_b = SiteFactory(), SiteFactory()
    alert_a, _ = services.alert_raise(site=site_a, kind="k", subject="s", message="m")
    alert_b, _ = services.alert_raise(site=site_b, kind="k", subject="s", message="m")
    supervisor = user_with_role("supervisor", site_a)
    api_client.force_authenticate(supervisor)
    response = api_client.post(f"/api/v1/alerts/{alert_a.pk}/acknowledge/")
    assert response.status_code == 200, response.content
    assert response.json()["acknowledged_by"] == supervisor.username
    assert AuditEvent.objects.filter(action="alert.acknowledged", object_id=str(alert_a.pk)).count() == 1
    assert api_client.post(f"/api/v1/alerts/{alert_b.pk}/acknowledge/").status_code == 404
    alert_b.refresh_from_db()
    assert alert_b.acknowledged_at is None


def test_viewer_cannot_acknowledge(api_client):
    site = SiteFactory()
    alert, _ = services.alert_raise(site=site, kind="k", subject="s", message="m")
    api_client.force_authenticate(user_with_role("viewer", site))
    response = api_client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_alert_list_query_count_constant(api_client, django_assert_num_queries):
    site = SiteFactory()
    user = user_with_role("supervisor", site)
    api_client.force_authenticate(user)
    services.alert_raise(site=site, kind="k", subject="s0", message="m")
    api_client.get("/api/v1/alerts/")  # warm permission caches of the content types
    with django_assert_num_queries(2) as one:  # count + page, scoping inlined as a subquery
        api_client.get("/api/v1/alerts/")
    for n in range(1, 30):
        services.alert_raise(site=site, kind="k", subject=f"s{n}", message="m")
    with django_assert_num_queries(len(one.captured_queries)):
        response = api_client.get("/api/v1/alerts/")
    assert response.json()["count"] == 30
