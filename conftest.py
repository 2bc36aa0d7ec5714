"""Shared pytest fixtures and the markers that need real services."""

from __future__ import annotations

import os

import pytest


# tryfirst: xdist's worker reads the xdist_group marks in its own modifyitems hook, which
# would otherwise run before this one (hooks run last-registered first) and see none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    has_pg = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (run by .ci/run)")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL (run by .ci/run)")
    for item in items:
        # Tests that start servers, workers, PgBouncer, PostgreSQL clusters or a private Redis, or share the browser
        # database, run one after another on one xdist worker.
        path = str(item.path)
        if "/tests/browser/" in path:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif (
            "/tests/faults/" in path
            or "/tests/scale/" in path
            or path.endswith("/tests/test_serve.py")
            or "real_worker" in item.keywords
        ):
            item.add_marker(pytest.mark.xdist_group("workers"))
            # ``make test`` runs these in a pass of their own, after the rest: the processes they
            # start (servers, workers, PgBouncer) share the test database and the worker's Redis
            # database, and while one winds down it could move another test's cache under it.
            item.add_marker(pytest.mark.processes)
        if "postgres" in item.keywords and not has_pg:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not has_redis:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _fresh_cache_and_eager_celery(request):
    """Tasks run in-process unless a test is marked ``real_worker``."""
    from django.core.cache import cache

    from config.celery import app

    cache.clear()
    eager = "real_worker" not in request.keywords
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def site_a(db):
    from tests.factories.tracker import SiteFactory

    return SiteFactory(code="plant-a", name="Plant A")


@pytest.fixture
def site_b(db):
    from tests.factories.tracker import SiteFactory

    return SiteFactory(code="plant-b", name="Plant B")


@pytest.fixture
def make_user(db):
    from tests.factories.tracker import user_with_role

    return user_with_role
