"""Reads behind the live pages (asset finder, plant dashboard), scoped to the user.

Everything starts from ``.restrict(user, "view")`` or from a selector that does;
the wip metrics (internal, site-wide) are read only for a site the user holds
and only if they may view workstations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from devices.models import SensorSample, Tag, TagAssignment, TagState
from inventory.models import Lot, SerialUnit, StockLevel, StockMove
from inventory.selectors import replenishment_internal
from tracker.models import Site
from tracker.scoping import has_model_permission
from tracker.selectors import alert_counts, alerts_open
from wip import selectors as wip_selectors
from wip.models import OperationRun, WorkOrder, Workstation
from wip.selectors import oee as wip_oee

TRAIL = 12


@dataclass
class Sighting:
    """Where a tag is: its zone, since when, and when and by which reader it was last seen."""

    tag: Tag
    label: str
    location: Any
    since: dt.datetime | None
    last_seen_at: dt.datetime | None
    last_device: Any
    missing_since: dt.datetime | None


@dataclass
class TrailStep:
    at: dt.datetime
    where: str
    what: str


@dataclass
class Found:
    kind: str  # tag, serial, lot, work_order, container
    title: str
    url: str = ""
    location: str = ""
    status: str = ""
    sightings: list[Sighting] = field(default_factory=list)
    trail: list[TrailStep] = field(default_factory=list)


def _sightings(tags: list[Tag]) -> list[Sighting]:
    out = []
    for tag in tags:
        state = getattr(tag, "state", None)
        current = next(iter(getattr(tag, "current", []) or []), None)
        out.append(
            Sighting(
                tag=tag,
                label=current.target_label if current else "",
                location=state.location if state else None,
                since=state.since if state else None,
                last_seen_at=state.last_seen_at if state else None,
                last_device=state.last_device if state else None,
                missing_since=state.missing_since if state else None,
            )
        )
    return out


def _tags(user: Any, site: Site) -> Any:
    return (
        Tag.objects.restrict(user, "view")
        .filter(site=site)
        .select_related("state__location", "state__last_device")
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=TagAssignment.objects.current().select_related("serial", "lot", "work_order"),
                to_attr="current",
            )
        )
    )


def _move_trail(moves: Iterable[StockMove]) -> list[TrailStep]:
    return [
        TrailStep(
            at=m.occurred_at,
            where=f"{m.source.code} → {m.destination.code}",
            what=f"{m.get_kind_display()} {m.quantity.normalize():f} {m.item.unit}"
            + (f" ({m.reference})" if m.reference else ""),
        )
        for m in moves
    ]


def _run_trail(runs: Iterable[OperationRun]) -> list[TrailStep]:
    steps = []
    for run in runs:
        where = run.workstation.code if run.workstation is not None else "(group queue)"
        for at, what in (
            (run.finished_at, f"step {run.sequence} {run.get_status_display().lower()}"),
            (run.started_at, f"step {run.sequence} started"),
            (run.queued_at, f"step {run.sequence} arrived"),
        ):
            if at is not None:
                steps.append(TrailStep(at=at, where=where, what=what))
    return steps


def find(*, user: Any, site: Site, query: str) -> list[Found]:
    """Everything ``query`` names at ``site``: a tag (id or EPC hex), a serial, a lot,
    a work order or a container/asset code. Fixed number of queries per kind found."""
    q = (query or "").strip()
    if not q:
        return []
    results: list[Found] = []
    tags = _tags(user, site)

    # Tags by id or EPC hex, and containers/assets by their code.
    direct = list(tags.filter(Q(tag_id=q) | Q(epc_hex__iexact=q))[:5])
    coded = list(tags.filter(assignments__valid_to__isnull=True, assignments__code__iexact=q).distinct()[:5])
    for tag in direct + [t for t in coded if t not in direct]:
        current = next(iter(tag.current), None)
        kind = "container" if current is not None and current.target_kind in ("container", "asset") else "tag"
        found = Found(
            kind=kind, title=f"{current.target_label if current else tag.tag_id}", sightings=_sightings([tag])
        )
        if current is not None and current.work_order_id:
            found.trail = _run_trail(
                OperationRun.objects.restrict(user, "view")
                .filter(work_order_id=current.work_order_id)
                .select_related("workstation")
                .order_by("-pk")[:TRAIL]
            )
            found.status = f"carrying work order {current.work_order.number}"
        results.append(found)

    for wo in WorkOrder.objects.restrict(user, "view").filter(site=site, number__iexact=q).select_related("item")[:1]:
        runs = list(
            OperationRun.objects.restrict(user, "view")
            .filter(work_order=wo)
            .select_related("workstation")
            .order_by("-pk")[:TRAIL]
        )
        active = next((r for r in runs if r.status in ("queued", "running", "paused")), None)
        results.append(
            Found(
                kind="work_order",
                title=f"{wo.number} · {wo.item.sku}",
                status=wo.get_status_display(),
                location=(active.workstation.code if active and active.workstation is not None else "in transit")
                if active
                else "",
                sightings=_sightings(list(tags.filter(assignments__work_order=wo, assignments__valid_to__isnull=True))),
                trail=sorted(_run_trail(runs), key=lambda s: s.at, reverse=True)[:TRAIL],
            )
        )

    for unit in (
        SerialUnit.objects.restrict(user, "view")
        .filter(serial=q, location__site=site)
        .select_related("item", "location", "lot")[:3]
    ):
        moves = (
            StockMove.objects.restrict(user, "view")
            .filter(serial=unit)
            .select_related("source", "destination", "item")
            .order_by("-occurred_at", "-pk")[:TRAIL]
        )
        results.append(
            Found(
                kind="serial",
                title=f"{unit.item.sku} serial {unit.serial}",
                status=unit.get_status_display(),
                location=unit.location.code,
                sightings=_sightings(list(tags.filter(assignments__serial=unit, assignments__valid_to__isnull=True))),
                trail=_move_trail(moves),
            )
        )

    for lot in Lot.objects.restrict(user, "view").filter(code__iexact=q, site=site).select_related("item")[:3]:
        levels = (
            StockLevel.objects.restrict(user, "view")
            .filter(lot=lot, site=site, on_hand__gt=0, location__is_virtual=False)
            .select_related("location")
        )
        moves = (
            StockMove.objects.restrict(user, "view")
            .filter(lot=lot)
            .select_related("source", "destination", "item")
            .order_by("-occurred_at", "-pk")[:TRAIL]
        )
        results.append(
            Found(
                kind="lot",
                title=f"{lot.item.sku} lot {lot.code}",
                status=lot.get_status_display(),
                location=", ".join(f"{lv.location.code} ({lv.on_hand.normalize():f} {lot.item.unit})" for lv in levels),
                sightings=_sightings(list(tags.filter(assignments__lot=lot, assignments__valid_to__isnull=True))),
                trail=_move_trail(moves),
            )
        )
    return results


# --------------------------------------------------------------------------- dashboard


@dataclass
class StationRow:
    code: str
    name: str
    queued: int
    running: int
    wip_limit: int | None
    utilisation: float | None
    avg_queue_minutes: float | None
    bottleneck: bool
    oee: float | None = None  # so far in the current shift
    availability: float | None = None


@dataclass
class Dashboard:
    stations: list[StationRow]
    bottleneck: Any  # wip's analysis over the window (utilisation, then waiting time)
    piling_up: StationRow | None  # where work waits now: the longest queue per unit of capacity
    orders_open: int
    orders_completed: int
    alerts: list
    alert_counts: dict
    reorder: list[dict]
    temperature: list[tuple[dt.datetime, Decimal]]
    temperature_sensor: str
    tags_seen: int
    # What the utilisation, the bottleneck and the completions are measured over (None: no stations
    # to measure): the site's current shift so far, clipped to the site's life, as on the WIP pages.
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None

    @property
    def window_hours(self) -> float:
        if self.window_start is None or self.window_end is None:
            return 0.0
        return max((self.window_end - self.window_start).total_seconds() / 3600, 0.0)


def dashboard(*, user: Any, site: Site, now: dt.datetime | None = None) -> Dashboard:
    """The plant's live figures. About a dozen queries, whatever the plant's size.

    Utilisation, the bottleneck and completions are over the default window of the WIP metrics (the
    site's current shift so far, clipped to its life: ``wip.selectors.shift_metrics``), so this page,
    the bottlenecks page and ``/api/v1/wip/metrics/`` agree."""
    asked_at = now  # a moment given (a test's, a past one): the OEE figures are read afresh, not cached
    now = now or timezone.now()
    window_start = window_end = None
    rows: list[StationRow] = []
    bottleneck = None
    completed = 0
    holds_site = Site.objects.restrict(user, "view").filter(pk=site.pk).exists()
    if holds_site and has_model_permission(user, Workstation, "view"):
        # Read once, for the metrics and the OEE figures alike.
        calendars = wip_selectors.site_calendars(site=site)
        since = wip_selectors.site_since(site=site)
        metrics = wip_selectors.shift_metrics(site=site, now=now, site_calendar=calendars, since=since)
        window_start, window_end = metrics.start, metrics.end
        bottleneck = metrics.bottleneck
        completed = metrics.orders_completed
        capacity = {s.code: max(s.capacity, 1) for s in metrics.stations}
        # Along the flow of work, as the WIP board shows them, not alphabetical; the same rows are
        # the OEE's stations (only the columns it reads).
        in_flow = list(Workstation.objects.filter(site=site).in_flow_order().only("id", "site_id", "code", "active"))
        order = {ws.code: i for i, ws in enumerate(in_flow)}
        shift_oee = wip_oee.current_shift_oee(
            site=site, now=asked_at, stations=[ws for ws in in_flow if ws.active], since=since, calendars=calendars
        )
        for s in metrics.stations:
            rows.append(
                StationRow(
                    code=s.code,
                    name=s.name,
                    queued=s.queue_length,
                    running=s.wip - s.queue_length,
                    wip_limit=s.wip_limit,
                    utilisation=s.utilisation,
                    avg_queue_minutes=s.avg_queue_minutes,
                    bottleneck=False,
                    oee=shift_oee[s.code].oee if s.code in shift_oee else None,
                    availability=shift_oee[s.code].availability if s.code in shift_oee else None,
                )
            )
        rows.sort(key=lambda r: (order.get(r.code, len(order)), r.code))
        waiting = [r for r in rows if r.queued > 0]
        if waiting:
            piling = max(waiting, key=lambda r: (r.queued / capacity[r.code], r.utilisation or 0.0))
            piling.bottleneck = True
    orders_open = WorkOrder.objects.restrict(user, "view").open().filter(site=site).count()
    alerts = list(alerts_open(user=user, site=site).order_by("-raised_at")[:8])
    counts = alert_counts(user=user, site=site)
    # The site was checked above: the stock permission is all replenishment() would check again.
    may_see_stock = holds_site and (
        getattr(user, "is_superuser", False) or has_model_permission(user, StockLevel, "view")
    )
    reorder = replenishment_internal(site=site) if may_see_stock else []
    samples = list(
        SensorSample.objects.restrict(user, "view")
        .filter(site=site, metric="temperature", observed_at__gte=now - dt.timedelta(hours=1))
        .order_by("-observed_at")
        .values_list("observed_at", "value", "sensor_id")[:240]
    )
    sensor = samples[0][2] if samples else ""
    series = sorted((at, value) for at, value, sid in samples if sid == sensor)
    seen = (
        TagState.objects.restrict(user, "view")
        .filter(site=site, last_seen_at__gte=now - dt.timedelta(minutes=10))
        .count()
    )
    return Dashboard(
        stations=rows,
        bottleneck=bottleneck,
        piling_up=next((r for r in rows if r.bottleneck), None),
        orders_open=orders_open,
        orders_completed=completed,
        alerts=alerts,
        alert_counts=counts,
        reorder=reorder,
        temperature=series,
        temperature_sensor=sensor,
        tags_seen=seen,
        window_start=window_start,
        window_end=window_end,
    )
