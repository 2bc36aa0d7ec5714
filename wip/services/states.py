"""Station states: operator stops and resumes, device machine-state signals, run-derived running.

Each source keeps its own intervals per station (``StationState``): opening a
new one closes the source's open one at the same moment, so a source's
intervals never overlap and at most one is open. Which source wins where they
disagree is decided when the timeline is read (``wip.timeline``: operator >
device > run > derived idle), so a late or corrected signal never rewrites
another source's rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tracker.realtime import broadcast
from tracker.request_context import actor_or_none
from tracker.transactions import service_atomic
from wip import errors
from wip.models import (
    STOP_STATES,
    ReasonCode,
    RunStatus,
    StateSource,
    StationState,
    StationStateKind,
    Workstation,
)
from wip.services._common import _now, _station_ids

#: What a device may say (``machine_state`` events, sensor rules) and the state each is.
DEVICE_STATES: dict[str, str | None] = {
    "running": StationStateKind.RUNNING,
    "stopped": StationStateKind.UNPLANNED_STOP,
    "fault": StationStateKind.UNPLANNED_STOP,
    "changeover": StationStateKind.CHANGEOVER,
    "setup": StationStateKind.CHANGEOVER,
    "planned_stop": StationStateKind.PLANNED_STOP,
    "offline": StationStateKind.OFFLINE,
    "off": StationStateKind.OFFLINE,
    # The machine is on but says nothing of work: the device has no opinion, the
    # other sources (runs, queue) decide.
    "idle": None,
}


def _open(workstation: Workstation, source: str) -> StationState | None:
    return (
        StationState.objects.select_for_update(of=("self",))
        .select_related("reason")
        .filter(workstation=workstation, source=source, ended_at__isnull=True)
        .first()
    )


def _publish(workstation: Workstation, row: StationState | None, at: dt.datetime) -> None:
    broadcast(
        site_id=workstation.site_id,
        type="station.state",
        data={
            "workstation": workstation.code,
            "state": row.state if row is not None and row.ended_at is None else None,
            "source": row.source if row is not None else None,
            "reason": row.reason.code if row is not None and row.reason is not None else None,
        },
        station_ids=_station_ids(workstation),
        occurred_at=at,
    )


def _switch(
    *,
    workstation: Workstation,
    source: str,
    state: str | None,
    at: dt.datetime,
    reason: ReasonCode | None = None,
    actor: Any = None,
    note: str = "",
    device_ref: str = "",
) -> tuple[StationState | None, bool]:
    """Close the source's open interval at ``at`` and open ``state`` (None: none).

    Same state and reason as the open one: nothing changes. A signal older than
    the open interval's start is history only (changes nothing). Returns the
    open row afterwards and whether anything changed."""
    current = _open(workstation, source)
    if current is not None:
        if at < current.started_at:
            return current, False
        if state == current.state and (reason is None or reason.pk == current.reason_id):
            return current, False
        current.ended_at = at
        current.save(update_fields=["ended_at"])
    if state is None:
        return None, current is not None
    row = StationState.objects.create(
        site_id=workstation.site_id,
        workstation=workstation,
        state=state,
        source=source,
        started_at=at,
        reason=reason,
        note=note[:500],
        device_ref=device_ref[:255],
        set_by=actor_or_none(actor),
        reason_by=actor_or_none(actor) if reason is not None else None,
    )
    return row, True


def _check_reason(workstation: Workstation, reason: ReasonCode | None) -> None:
    if reason is not None and (reason.site_id != workstation.site_id or not reason.active):
        raise errors.ValidationFailed("Pick a stop reason of this site.", field="reason")


@service_atomic
def station_stop(
    *,
    workstation: Workstation,
    reason: ReasonCode,
    actor: Any = None,
    at: dt.datetime | None = None,
    note: str = "",
) -> StationState:
    """The operator stops the station with a reason (one tap on the station page).

    The stop's state is the reason's (an unplanned stop unless the reason is a
    planned stop or a changeover). A stop already open is replaced by this one
    at ``at``. While it is open the station counts as stopped whatever its runs
    or devices say. An open device stop still waiting for a reason gets this
    reason too, so the operator answers the prompt and stops in one tap."""
    at = _now(at)
    _check_reason(workstation, reason)
    state = reason.state if reason.state in STOP_STATES else StationStateKind.UNPLANNED_STOP
    row, _ = _switch(
        workstation=workstation, source=StateSource.OPERATOR, state=state, at=at, reason=reason, actor=actor, note=note
    )
    if row is None:  # cannot happen: a state was given
        raise errors.InvalidTransition(f"{workstation.code} could not be stopped.")
    StationState.objects.filter(
        workstation=workstation, source=StateSource.DEVICE, ended_at__isnull=True, reason__isnull=True
    ).exclude(state=StationStateKind.RUNNING).update(reason=reason, reason_by=actor_or_none(actor))
    _publish(workstation, row, at)
    return row


@service_atomic
def station_resume(*, workstation: Workstation, actor: Any = None, at: dt.datetime | None = None) -> None:
    """The operator resumes: the open operator stop ends at ``at``, and so does an
    open device stop (the operator sees the machine back). Refused when nothing
    is stopped (``invalid_transition``)."""
    at = _now(at)
    closed = False
    current = _open(workstation, StateSource.OPERATOR)
    if current is not None:
        _, closed = _switch(
            workstation=workstation, source=StateSource.OPERATOR, state=None, at=max(at, current.started_at)
        )
    device = _open(workstation, StateSource.DEVICE)
    if device is not None and device.is_stop:
        device.ended_at = max(at, device.started_at)
        device.save(update_fields=["ended_at"])
        closed = True
    if not closed:
        raise errors.InvalidTransition(f"{workstation.code} is not stopped.")
    _publish(workstation, None, at)


@service_atomic
def station_state_reason_set(*, state: StationState, reason: ReasonCode, actor: Any = None) -> StationState:
    """Give a stop its reason after the fact (a device stop "reason needed", or a
    correction). Only stops take reasons; the state's interval is unchanged."""
    row = StationState.objects.select_for_update(of=("self",)).select_related("workstation").get(pk=state.pk)
    if not row.is_stop:
        raise errors.InvalidTransition("Only a stop takes a reason.")
    _check_reason(row.workstation, reason)
    row.reason = reason
    row.reason_by = actor_or_none(actor)
    row.save(update_fields=["reason", "reason_by"])
    _publish(row.workstation, row, row.started_at)
    return row


@service_atomic
def station_device_signal(
    *,
    workstation: Workstation,
    state: str,
    at: dt.datetime,
    device_ref: str = "",
    reason: ReasonCode | None = None,
) -> tuple[StationState | None, bool]:
    """A device says what the machine is doing (``DEVICE_STATES``): its interval
    switches at ``at``. Repeats and signals older than the open interval change
    nothing (returns ``changed=False``). A stop without a reason waits for the
    operator's ("reason needed")."""
    if state not in DEVICE_STATES:
        raise errors.ValidationFailed(
            f"Unknown machine state {state!r}; known: {', '.join(sorted(DEVICE_STATES))}.", field="state"
        )
    at = _now(at)
    if reason is not None and reason.site_id != workstation.site_id:
        reason = None  # another site's code: the operator is asked instead
    row, changed = _switch(
        workstation=workstation,
        source=StateSource.DEVICE,
        state=DEVICE_STATES[state],
        at=at,
        reason=reason,
        device_ref=device_ref,
    )
    if changed:
        _publish(workstation, row, at)
    return row, changed


def station_runs_sync(*, workstation: Workstation | None, at: dt.datetime, running: bool | None = None) -> None:
    """Derive the run source from the station's runs, in the caller's transaction:
    running while any run is running there, nothing otherwise (the timeline then
    says idle, starved or blocked). Called by every run service that starts,
    pauses, resumes or finishes a run (``running=True``: the caller just started one,
    so the station runs without asking)."""
    if workstation is None:
        return
    if running is None:
        running = workstation.runs.filter(status=RunStatus.RUNNING).exists()
    _switch(
        workstation=workstation,
        source=StateSource.RUN,
        state=StationStateKind.RUNNING if running else None,
        at=at,
    )
