"""The site plan (``selectors.site_schedule``) cached per site, invalidated by every committed WIP change.

The same version keys the other things derived from a site's WIP data: the WIP
board's HTML (``wip.views``) and the OEE figures of the station panel and the
plant dashboard (``cached_at_version``).

The finite-capacity simulation is the WIP board's biggest cost and changes only
when the site's work does. Each site has a version counter in the Django cache
(shared by every process); a cached plan is keyed by (site, version) and lives
``PLAN_TTL`` seconds at most, so time passing (a running step's remaining minutes)
and master data not seen here (routings' standard times) are out of date by at
most that long.

What bumps a site's version, always after the write commits (a reader in
another process must never cache a plan computed before the change under the
version that follows it):

* every save or delete of a run, work order, hold, station, station group,
  working hours, routing, operation or the site itself (``post_save`` /
  ``post_delete``), and for the OEE figures of a station state, a defect or a
  stop reason, and
* every WIP broadcast (``workorder.*``, ``operation.*``, ``station.*``), which
  also covers the services' bulk ``QuerySet.update()`` calls that send no signal.

A transaction's bumps for its sites are folded into one ``on_commit`` callback.
While the current connection holds uncommitted WIP changes for a site, its
reads of that site's plan bypass the cache (they must see their own writes)
and store nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

#: Seconds a cached plan may be reused at most without any WIP change (the safety net).
PLAN_TTL = 30

T = TypeVar("T")
#: Event type prefixes of the WIP broadcasts that change the plan (or the OEE figures: ``station.state``).
WIP_EVENTS = ("workorder.", "operation.", "station.")


def _version_key(site_id: int) -> str:
    return f"wip:plan:version:{site_id}"


def _plan_key(site_id: int, version: int) -> str:
    return f"wip:plan:{site_id}:{version}"


class _Bump:
    """The pending ``on_commit`` callback of one transaction: bumps the versions of its sites."""

    def __init__(self) -> None:
        self.site_ids: set[int] = set()
        self.done = False

    def __call__(self) -> None:
        # Test helpers run callbacks without taking them off the list: a run one is no longer pending.
        self.done = True
        for site_id in sorted(self.site_ids):
            bump_now(site_id)


def bump_now(site_id: int) -> None:
    """Move the site to a new version now (callers: after commit). A missing counter (evicted, or
    never read) restarts from the clock, so a version number is never reused for other data."""
    key = _version_key(site_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, time.time_ns(), timeout=None)
        cache.incr(key)


def _pending(using: str | None = None) -> _Bump | None:
    """This connection's pending bump callback, if its current transaction registered one (Django drops
    callbacks of rolled-back savepoints from ``run_on_commit``, so a found one will run)."""
    connection = transaction.get_connection(using)
    for entry in connection.run_on_commit:
        func = entry[1]
        if isinstance(func, _Bump) and not func.done:
            return func
    return None


def changed(site_id: int | None) -> None:
    """Note a WIP change of ``site_id``: its version moves once the transaction commits (at once outside one)."""
    if site_id is None:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        bump_now(site_id)
        return
    bump = _pending()
    if bump is None:
        bump = _Bump()
        transaction.on_commit(bump)
    bump.site_ids.add(site_id)


def current_version(site_id: int) -> int | None:
    """The site's plan version now, for caching what is derived from the plan (the board's HTML);
    None when it must not be cached: this transaction changed the site, or no cache works."""
    bump = _pending()
    if bump is not None and site_id in bump.site_ids:
        return None
    key = _version_key(site_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key)
    return cast(int | None, version)


def cached_plan(site_id: int, compute: Callable[[], T]) -> T:
    """The site's plan at its current version, computed (and stored) when missing."""
    bump = _pending()
    if bump is not None and site_id in bump.site_ids:
        return compute()  # this transaction changed the site: its own, uncommitted view
    key = _version_key(site_id)
    # Read the version before the data: a change committed meanwhile bumps past it.
    version = cache.get(key)
    if version is None:
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key)
        if version is None:  # no working cache: never serve a stale plan
            return compute()
    plan_key = _plan_key(site_id, version)
    cached = cache.get(plan_key)
    if cached is not None:
        return cast(T, cached)
    plan = compute()
    cache.set(plan_key, plan, timeout=PLAN_TTL)
    return plan


def cached_at_version(site_id: int, name: str, compute: Callable[[], T], *, ttl: int = PLAN_TTL) -> T:
    """``compute()``, a figure derived from the site's WIP data (``name`` says which, and for what),
    shared by every process at the site's current version for at most ``ttl`` seconds: the key
    carries the time bucket, so figures "so far" that move with the clock are at most that old,
    and never older than the last committed WIP change. Computed afresh (and not stored) when
    this transaction changed the site or no cache works."""
    version = current_version(site_id)  # read before the data: a change committed meanwhile bumps past it
    if version is None:
        return compute()
    key = f"wip:derived:{site_id}:{version}:{int(time.time() // ttl)}:{name}"
    cached = cache.get(key)
    if cached is not None:
        return cast(T, cached)
    value = compute()
    cache.set(key, value, timeout=ttl)
    return value


# --- what counts as a WIP change ----------------------------------------------


def _on_broadcast(*, site_id: int, type: str, **_: Any) -> None:
    if type.startswith(WIP_EVENTS):
        changed(site_id)


def _on_model_change(sender: type[Model], instance: Model, **_: Any) -> None:
    changed(getattr(instance, "site_id", None))


def _on_site_change(sender: type[Model], instance: Model, **_: Any) -> None:
    changed(instance.pk)


def _on_operation_change(sender: type[Model], instance: Model, **_: Any) -> None:
    from wip.models import Operation, Routing

    if not isinstance(instance, Operation):
        return
    if Operation.routing.is_cached(instance):  # as when made with routing=...: no query
        changed(instance.routing.site_id)
    elif instance.routing_id is not None:
        changed(Routing.objects.filter(pk=instance.routing_id).values_list("site_id", flat=True).first())


def connect() -> None:
    """Hook the invalidation up (``WipConfig.ready``)."""
    from tracker.models import Site
    from tracker.realtime import add_broadcast_listener
    from wip.models import (
        Defect,
        Hold,
        Operation,
        OperationRun,
        ReasonCode,
        Routing,
        StationState,
        WorkingHours,
        WorkOrder,
        Workstation,
        WorkstationGroup,
    )

    add_broadcast_listener(_on_broadcast)
    plan: tuple[type[Model], ...] = (
        OperationRun,
        WorkOrder,
        Hold,
        Workstation,
        WorkstationGroup,
        WorkingHours,
        Routing,
    )
    # Not the plan's, but the OEE figures' (``cached_at_version``): station states, quality records, stop reasons.
    figures: tuple[type[Model], ...] = (StationState, Defect, ReasonCode)
    for model in plan + figures:
        post_save.connect(_on_model_change, sender=model, dispatch_uid=f"wip.plan_cache.{model.__name__}.save")
        post_delete.connect(_on_model_change, sender=model, dispatch_uid=f"wip.plan_cache.{model.__name__}.delete")
    post_save.connect(_on_operation_change, sender=Operation, dispatch_uid="wip.plan_cache.Operation.save")
    post_delete.connect(_on_operation_change, sender=Operation, dispatch_uid="wip.plan_cache.Operation.delete")
    post_save.connect(_on_site_change, sender=Site, dispatch_uid="wip.plan_cache.Site.save")
    post_delete.connect(_on_site_change, sender=Site, dispatch_uid="wip.plan_cache.Site.delete")
