"""Sites, locations and alerts through the API: the scoping matrix."""

from __future__ import annotations

from tests.factories.tracker import AlertFactory, LocationFactory
from tests.scoping import DetailWrite, ScopedEndpointMatrix
from tracker.roles import ROLE_NAMES


class TestSitesScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/sites/"

    def make_object(self, site):
        return site


class TestLocationsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/locations/"
    detail_reads = {"location-children": "children/"}

    def make_object(self, site):
        area = LocationFactory(site=site, kind="area", code=f"{site.code}-AREA")
        return LocationFactory(site=site, kind="bin", parent=area, code=f"{site.code}-BIN1")


class TestAlertsScoped(ScopedEndpointMatrix):
    list_url = "/api/v1/alerts/"
    key_field = "id"
    viewer_roles = tuple(r for r in ROLE_NAMES if r != "partner")
    detail_writes = {"alert-acknowledge": DetailWrite(suffix="acknowledge/")}

    def make_object(self, site):
        return AlertFactory(site=site)
