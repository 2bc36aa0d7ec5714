"""Fixtures of the scale-out tests (queues, web nodes, PgBouncer, replica): a private Redis
and the in-process Celery producer pointed at it, and the processes the test starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import celery_on, private_redis  # noqa: F401 - fixtures used here
from tests.scale.procs import Procs, process_env, processes


@pytest.fixture
def procs(private_redis, tmp_path: Path) -> Iterator[Procs]:  # noqa: F811 - the imported fixture
    with processes(tmp_path, process_env(private_redis.url)) as started:
        yield started
