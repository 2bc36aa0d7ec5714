"""Reads of wip: queues in dispatch order, ETAs, the WIP board, load and metrics.

Functions taking ``user`` start from ``.restrict(user, "view")``; the
``site_*`` helpers are internal (tasks, services) and take a site the caller
has already checked. Every read here issues a fixed number of queries,
however many work orders there are: rows are fetched in bulk and the
scheduling arithmetic runs in ``wip.dispatch`` on plain data.

One module per concern; callers keep importing from ``wip.selectors``:
``access`` (scoped lists), ``planning`` (calendars, the site plan, dispatch
lists), ``board`` (the WIP board, timelines, load), ``metrics``, ``runs``
(which run or hold an action on a whole work order acts on).
"""

from wip.selectors.access import (
    open_defects,
    open_holds,
    recent_inspections,
    routings_for_user,
    work_orders_for_user,
    workstations_for_user,
)
from wip.selectors.board import (
    BOARD_SHOW,
    BoardCard,
    BoardColumn,
    OperatorLoad,
    StationLoad,
    TimelineStep,
    board_visible,
    load_view,
    wip_board,
    work_order_timeline,
)
from wip.selectors.metrics import (
    Bottleneck,
    SiteMetrics,
    StationMetrics,
    current_shift,
    find_bottleneck,
    shift_at,
    shift_metrics,
    site_metrics,
    site_since,
    station_metrics,
)
from wip.selectors.planning import (
    DispatchRow,
    SitePlan,
    dispatch_list,
    dispatch_rule,
    site_calendars,
    site_schedule,
)
from wip.selectors.quality import DEFAULT_DEFECT_CODES, defect_codes, pending_inspections
from wip.selectors.runs import holds_to_release, run_to_start

__all__ = [
    "BOARD_SHOW",
    "DEFAULT_DEFECT_CODES",
    "defect_codes",
    "pending_inspections",
    "BoardCard",
    "BoardColumn",
    "Bottleneck",
    "DispatchRow",
    "OperatorLoad",
    "SiteMetrics",
    "SitePlan",
    "StationLoad",
    "StationMetrics",
    "TimelineStep",
    "dispatch_list",
    "dispatch_rule",
    "current_shift",
    "find_bottleneck",
    "shift_at",
    "holds_to_release",
    "load_view",
    "open_defects",
    "open_holds",
    "recent_inspections",
    "routings_for_user",
    "run_to_start",
    "site_calendars",
    "site_metrics",
    "shift_metrics",
    "site_since",
    "site_schedule",
    "station_metrics",
    "board_visible",
    "wip_board",
    "work_order_timeline",
    "work_orders_for_user",
    "workstations_for_user",
]
