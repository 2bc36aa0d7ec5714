"""Which run or hold an action on a whole work order acts on."""

from __future__ import annotations

from typing import Any

from wip import errors
from wip.models import Hold, OperationRun, RunStatus, WorkOrder, Workstation


def run_to_start(*, work_order: WorkOrder, workstation: Workstation | None = None) -> OperationRun:
    """The run that starting ``work_order`` starts: its first queued step that
    ``workstation`` (when given) may do.

    With nothing queued, its first waiting step, so that starting it gives the
    precise refusal (``predecessor_not_done``, ``work_order_on_hold``...);
    with no step at all (not released yet) ``invalid_transition``. The caller
    has already checked that the user may act on ``work_order``.
    """
    queued = OperationRun.objects.filter(work_order=work_order, status=RunStatus.QUEUED).select_related("operation")
    for run in queued.order_by("sequence", "pk"):
        if workstation is None or run.operation.accepts(workstation):
            return run
    waiting = (
        OperationRun.objects.filter(work_order=work_order, status=RunStatus.WAITING).order_by("sequence", "pk").first()
    )
    if waiting is None:
        raise errors.InvalidTransition(
            f"Work order {work_order.number} has no step to start (status {work_order.status})."
        )
    return waiting


def holds_to_release(*, user: Any, work_order: WorkOrder, hold: int | None = None) -> list[Hold]:
    """The open holds on ``work_order`` that ``user`` may release (only hold ``hold``
    when given), oldest first."""
    holds = Hold.objects.restrict(user, "change").filter(work_order=work_order, released_at__isnull=True)
    if hold:
        holds = holds.filter(pk=hold)
    return list(holds.order_by("pk"))
