"""The alert inbox: open alerts or their history, by kind and severity, with kinds named
as people say them; a constant query count however many alerts there are."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories.tracker import SiteFactory, user_with_role
from tracker import services
from tracker.alert_kinds import kind_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return SiteFactory(name="Alpha Works")


@pytest.fixture
def client(site):
    client = Client()
    client.force_login(user_with_role("supervisor", site))
    return client


def test_kinds_have_human_names():
    from devices.models import ThresholdRule
    from tests.factories.tracker import LocationFactory

    site = SiteFactory()
    rule = ThresholdRule.objects.create(
        site=site,
        scope="zone",
        location=LocationFactory(site=site, kind="zone", code="COLD"),
        name="Cold store above 8 °C",
        metric="temperature",
        create_threshold=Decimal(8),
        clear_threshold=Decimal(7),
    )
    names = kind_names(["wip.operation_overtime", rule.alert_kind, "threshold.999999", "odd.new_kind"])
    assert names["wip.operation_overtime"] == "Step over its standard time"
    assert names[rule.alert_kind] == "Cold store above 8 °C"
    assert names["odd.new_kind"] == "Odd: new kind"


def test_filters_and_history(site, client):
    services.alert_raise(site=site, kind="wip.work_order_late", subject="wo:1", message="WO-1 is late")
    services.alert_raise(
        site=site, kind="device.silent", subject="device:R1", message="R1 went quiet", severity="critical"
    )
    services.alert_raise(site=site, kind="tag.missing", subject="tag:T1", message="T1 not seen")
    services.alert_clear(site=site, kind="tag.missing", subject="tag:T1")
    body = client.get("/alerts/").content.decode()
    assert "WO-1 is late" in body and "R1 went quiet" in body and "T1 not seen" not in body
    assert "Work order late" in body and "wip.work_order_late</td>" not in body
    body = client.get("/alerts/?kind=device.silent").content.decode()
    assert "R1 went quiet" in body and "WO-1 is late" not in body
    body = client.get("/alerts/?severity=critical").content.decode()
    assert "R1 went quiet" in body and "WO-1 is late" not in body
    body = client.get("/alerts/?state=cleared").content.decode()
    assert "Alert history" in body and "T1 not seen" in body and "WO-1 is late" not in body
    assert "cleared " in body
    assert "T1 not seen" in client.get("/alerts/?state=all").content.decode()


def test_inbox_query_count_does_not_grow(site, client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/alerts/?state=all").status_code == 200
        return len(ctx.captured_queries)

    services.alert_raise(site=site, kind="wip.work_order_late", subject="wo:0", message="late 0")
    one = queries()
    for n in range(1, 8):
        services.alert_raise(site=site, kind="wip.work_order_late", subject=f"wo:{n}", message=f"late {n}")
        services.alert_raise(site=site, kind="device.silent", subject=f"device:{n}", message=f"quiet {n}")
    assert queries() == one
