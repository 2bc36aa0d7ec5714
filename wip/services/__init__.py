"""Writes of wip: work orders moving through their routing, quality, holds.

Every function is one transaction (``@service_atomic``, not durable: the
API wraps creates in the idempotency transaction, which it joins without a
savepoint, ``tracker.transactions``). Rows are locked in one
order, the work order first, then its runs by primary key, then whatever the
inventory services lock, so two writers of the same order never deadlock.
Quantities reach stock only through ``inventory.services``. Events are
broadcast after commit through ``tracker.realtime.broadcast``.

One module per concern; callers keep importing from ``wip.services``:

- ``work_orders``: plan, release, complete into stock, cancel;
- ``runs``: arrive, start, pause, resume, complete, skip a step;
- ``quality``: inspections and defects;
- ``holds``: holds on a work order or a lot;
- ``workstations``: master data;
- ``checks``: the periodic alert checks;
- ``flow`` and ``_common``: what the others share (not for callers).
"""

from wip.services._common import ALERT_INSPECTION_FAILED, ALERT_LATE, ALERT_OVERTIME, ALERT_QUEUE_OVER_LIMIT
from wip.services.checks import check_late, check_overtime, check_wip_limits
from wip.services.holds import hold_place, hold_release
from wip.services.quality import defect_dispose, defect_record, inspection_record
from wip.services.runs import (
    ArrivalResult,
    operation_arrive,
    operation_complete,
    operation_pause,
    operation_resume,
    operation_skip,
    operation_start,
)
from wip.services.states import (
    DEVICE_STATES,
    station_device_signal,
    station_resume,
    station_runs_sync,
    station_state_reason_set,
    station_stop,
)
from wip.services.work_orders import work_order_cancel, work_order_complete, work_order_create, work_order_release
from wip.services.workstations import workstation_create

__all__ = [
    "ALERT_INSPECTION_FAILED",
    "ALERT_LATE",
    "ALERT_OVERTIME",
    "ALERT_QUEUE_OVER_LIMIT",
    "DEVICE_STATES",
    "ArrivalResult",
    "station_device_signal",
    "station_resume",
    "station_runs_sync",
    "station_state_reason_set",
    "station_stop",
    "check_late",
    "check_overtime",
    "check_wip_limits",
    "defect_dispose",
    "defect_record",
    "hold_place",
    "hold_release",
    "inspection_record",
    "operation_arrive",
    "operation_complete",
    "operation_pause",
    "operation_resume",
    "operation_skip",
    "operation_start",
    "work_order_cancel",
    "work_order_complete",
    "work_order_create",
    "work_order_release",
    "workstation_create",
]
