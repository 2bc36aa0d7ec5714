"""Domain errors of wip: each names the rule broken; the API renders them as problems."""

from __future__ import annotations

from tracker.errors import Conflict, DomainError, InvalidTransition, ValidationFailed


class WipError(ValidationFailed):
    code = "wip_error"


class WorkOrderOnHold(Conflict):
    code = "work_order_on_hold"


class PredecessorNotDone(InvalidTransition):
    """Starting a step whose previous step has not passed anything on yet."""

    code = "predecessor_not_done"


class WrongStation(InvalidTransition):
    code = "wrong_station"


class StationAtCapacity(Conflict):
    code = "station_at_capacity"


class InspectionPending(InvalidTransition):
    code = "inspection_pending"


class SplitNotAllowed(ValidationFailed):
    code = "split_not_allowed"


class OperatorNotAllowed(DomainError):
    code = "operator_not_allowed"
    status = 403


class DuplicateWorkOrder(Conflict):
    code = "duplicate"


__all__ = [
    "DuplicateWorkOrder",
    "InspectionPending",
    "InvalidTransition",
    "OperatorNotAllowed",
    "PredecessorNotDone",
    "SplitNotAllowed",
    "StationAtCapacity",
    "ValidationFailed",
    "WipError",
    "WorkOrderOnHold",
    "WrongStation",
]
