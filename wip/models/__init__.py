"""Work in progress: stations, routings, work orders, their runs, quality.

Every model is site-scoped (``site_path``) and served through
``.restrict(user, action)``. Quantities are decimals in the item's unit;
standard times are minutes of working time.

One module per concern (each imports the ones it refers to); every model is
imported here so Django registers it under the ``wip`` app and callers keep
``from wip.models import``.
"""

from wip.models._common import MINUTES, QTY, ZERO
from wip.models.oee import (
    STOP_STATES,
    ReasonCode,
    StateSource,
    StationState,
    StationStateKind,
    StationStateQuerySet,
)
from wip.models.quality import (
    CheckResult,
    Defect,
    DefectQuerySet,
    Disposition,
    Hold,
    HoldQuerySet,
    Inspection,
    InspectionResult,
)
from wip.models.routings import BillOfMaterials, BomLine, CheckItem, CheckKind, Operation, Routing
from wip.models.stations import WorkingHours, Workstation, WorkstationGroup, WorkstationQuerySet
from wip.models.work_orders import (
    ACTIVE_RUN_STATUSES,
    OPEN_RUN_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    InspectionState,
    MaterialIssue,
    OperationRun,
    OperationRunQuerySet,
    RunStatus,
    WorkOrder,
    WorkOrderQuerySet,
    WorkOrderStatus,
)

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "MINUTES",
    "OPEN_RUN_STATUSES",
    "OPEN_WORK_ORDER_STATUSES",
    "QTY",
    "ZERO",
    "STOP_STATES",
    "BillOfMaterials",
    "ReasonCode",
    "StateSource",
    "StationState",
    "StationStateKind",
    "StationStateQuerySet",
    "BomLine",
    "CheckItem",
    "CheckKind",
    "CheckResult",
    "Defect",
    "DefectQuerySet",
    "Disposition",
    "Hold",
    "HoldQuerySet",
    "Inspection",
    "InspectionResult",
    "InspectionState",
    "MaterialIssue",
    "Operation",
    "OperationRun",
    "OperationRunQuerySet",
    "Routing",
    "RunStatus",
    "WorkOrder",
    "WorkOrderQuerySet",
    "WorkOrderStatus",
    "WorkingHours",
    "Workstation",
    "WorkstationGroup",
    "WorkstationQuerySet",
]
