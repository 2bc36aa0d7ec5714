from __future__ import annotations

import pytest

from tests.factories.tracker import LocationFactory


@pytest.fixture
def bins(site_a):
    """An area with two bins at site A."""
    area = LocationFactory(site=site_a, kind="area", code="A-STORE")
    return (
        area,
        LocationFactory(site=site_a, kind="bin", parent=area, code="A-BIN1"),
        LocationFactory(site=site_a, kind="bin", parent=area, code="A-BIN2"),
    )


@pytest.fixture
def bin_b(site_b):
    return LocationFactory(site=site_b, kind="bin", code="B-BIN1")
