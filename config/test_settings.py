"""Settings for the test suite: the same as ``config.settings`` but faster to run.

What changes and why:

- A fast password hasher: the suite creates thousands of users, and the default
  PBKDF2 hasher costs ~100 ms of CPU each on purpose (Saleor's test settings
  do the same). Nothing in the suite measures password hashing strength.
- Under pytest-xdist each worker gets its own Redis database: the suite clears
  the cache before every test (``cache.clear()`` is ``FLUSHDB``), which would
  wipe another worker's cache, channel-layer and broker keys mid-test. The
  rewritten ``REDIS_URL`` is put back into the environment before the settings
  read it, so subprocesses the tests start (Celery workers, servers) use the
  same database as their worker.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def _redis_url_for_worker(url: str, worker: str) -> str:
    """``redis://host:port/5`` for worker ``gw1`` -> ``redis://host:port/6`` (16 databases, wrapping)."""
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    index = int(worker.removeprefix("gw") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + index) % 16}"))


# Rewritten once per pytest worker: a subprocess it starts inherits both the rewritten URL
# and this marker (naming the worker), so a URL the test chose for it (a private Redis) is
# left alone. The marker names the worker because xdist's controller loads these settings
# too, before it starts the workers, and they inherit its environment: a bare "done" flag
# there made every worker skip its rewrite and share one database, where one worker's
# cache.clear() emptied the other's cache mid-test.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("SHOPFLOOR_TEST_REDIS_PER_WORKER") != f"done:{_worker}":
    os.environ["SHOPFLOOR_TEST_REDIS_PER_WORKER"] = f"done:{_worker}"
    os.environ["REDIS_URL"] = _redis_url_for_worker(os.environ.get("REDIS_URL", ""), _worker)
    if not os.environ["REDIS_URL"]:
        del os.environ["REDIS_URL"]

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
