"""Devices: readers, gateways, scanners, tags and sensors, and what their uploads became.

What is stored, on purpose (DESIGN.md section 8): the raw upload (``ReaderUpload``,
kept untouched), the *state* each tag is in (``TagState``: its current zone and a
compact arbitration window) and the state changes the pipeline caused through the
owning services. Individual reads are never stored as rows: a mid-size plant makes
tens of millions a day.
"""

from devices.epcis.models import Containment, EpcisCapture, EpcisEvent
from devices.models.excursions import Excursion, ExcursionEntry
from devices.models.machine_states import MachineStateRule
from devices.models.readers import (
    PERIODIC_UPLOADERS,
    READER_KINDS,
    Device,
    DeviceKey,
    DeviceKind,
    DeviceQuerySet,
    ReadPoint,
    ZoneSetting,
    upload_format_choices,
)
from devices.models.tags import (
    Tag,
    TagAssignment,
    TagAssignmentQuerySet,
    TagKind,
    TagState,
    TargetKind,
    tag_kind_of,
)
from devices.models.telemetry import (
    RuleDirection,
    RuleScope,
    SensorSample,
    ThresholdRule,
    ThresholdRuleState,
)
from devices.models.uploads import (
    ReaderUpload,
    UnknownTag,
    UploadStatus,
)

__all__ = [
    "Containment",
    "Device",
    "DeviceKey",
    "DeviceKind",
    "DeviceQuerySet",
    "EpcisCapture",
    "EpcisEvent",
    "MachineStateRule",
    "Excursion",
    "ExcursionEntry",
    "PERIODIC_UPLOADERS",
    "READER_KINDS",
    "ReadPoint",
    "ReaderUpload",
    "RuleDirection",
    "RuleScope",
    "SensorSample",
    "Tag",
    "TagAssignment",
    "TagAssignmentQuerySet",
    "TagKind",
    "TagState",
    "TargetKind",
    "ThresholdRule",
    "ThresholdRuleState",
    "UnknownTag",
    "UploadStatus",
    "ZoneSetting",
    "tag_kind_of",
    "upload_format_choices",
]
