"""Cache key names worked out once: the same names the cache itself makes, until CACHES changes."""

from __future__ import annotations

from django.core.cache import caches
from django.test import override_settings

from tracker.cache_keys import stored_key


def test_a_stored_key_is_the_caches_own_name():
    assert stored_key("auth:epoch") == caches["default"].make_and_validate_key("auth:epoch")
    assert stored_key("auth:epoch") is stored_key("auth:epoch")  # remembered


def test_a_new_key_prefix_gives_new_names():
    before = stored_key("versions:site:1")
    other = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "elsewhere"}}
    with override_settings(CACHES=other):
        inside = stored_key("versions:site:1")
        assert inside == caches["default"].make_and_validate_key("versions:site:1")
        assert inside != before
    assert stored_key("versions:site:1") == before
