"""tracker.versions.bump_now: every named counter and ``data:v:all`` move by one in one round
trip; a missing counter starts from the clock (a value is never reused for other data)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from tracker import versions

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def test_bump_moves_each_counter_once_and_starts_missing_ones_from_the_clock():
    cache.clear()
    before = time.time_ns()
    versions.bump_now([versions.site_key(7), versions.site_key(7), versions.GLOBAL])
    first = versions.current([versions.site_key(7), versions.GLOBAL, versions.ALL])
    assert all(value > before for value in first)
    versions.bump_now([versions.site_key(7)])
    second = versions.current([versions.site_key(7), versions.GLOBAL, versions.ALL])
    assert second == [first[0] + 1, first[1], first[2] + 1]
