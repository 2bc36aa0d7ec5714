"""PostgreSQL databases for the benchmarks: made from ``DATABASE_URL``'s server,
always named ``shopfloor_bench*`` (or ``shopfloor_<owner>_bench*``, a developer's own)
so a benchmark never touches a real database."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PREFIX = "shopfloor_bench"
_NAME = re.compile(r"shopfloor_(?:[a-z0-9]+_)?bench[a-z0-9_]*")


def server_url() -> str:
    """``DATABASE_URL`` (when PostgreSQL) pointed at the maintenance database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_SERVER
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def database_url(name: str) -> str:
    check_name(name)
    parts = urlsplit(server_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"benchmark databases are named {PREFIX}* or shopfloor_<owner>_bench*, not {name!r}")


def is_bench_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def exists(name: str) -> bool:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate(name: str) -> None:
    """Drop (ending its sessions) and create ``name``, empty."""
    check_name(name)
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def settle(name: str) -> None:
    """``VACUUM (ANALYZE)`` the freshly seeded ``name``: what autovacuum does to a production
    database within a minute of a bulk load. Without it the planner has no statistics (and,
    when the server runs with ``autovacuum = off``, never gets any during the run): it guesses
    row counts and picks plans a live database would not run, e.g. the levels list's page
    read every level of the site through two bitmap indexes, 2.4 ms instead of 0.5."""
    with psycopg.connect(database_url(name), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def current_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


def fresh(database: str, redis_url: str, *, benchmark: str) -> None:
    """Check ``database``'s name, recreate it empty and flush the benchmark's Redis db (its own
    number only); a ``CommandError`` saying what is missing when either cannot be reached."""
    import redis
    from django.core.management.base import CommandError

    try:
        check_name(database)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    try:
        recreate(database)
        redis.Redis.from_url(redis_url).flushdb()
    except Exception as exc:  # say what is missing
        raise CommandError(f"{benchmark} needs PostgreSQL ({server_url()}) and Redis ({redis_url}): {exc}") from exc
