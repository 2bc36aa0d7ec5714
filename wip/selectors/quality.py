"""Quality reads for the pages: the defect codes a site picks from, runs awaiting an inspection."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tracker.models import Site
from wip.models import Defect, InspectionState, OperationRun, RunStatus

# What a plant records most; a site replaces them with its ``defect_codes`` setting
# (a list of ``[code, label]``). Codes already used at the site are offered too.
DEFAULT_DEFECT_CODES: tuple[tuple[str, str], ...] = (
    ("SCRATCH", "Scratch"),
    ("DENT", "Dent"),
    ("PAINT_RUN", "Paint run or sag"),
    ("PAINT_COVERAGE", "Paint coverage"),
    ("WELD_POROSITY", "Weld porosity"),
    ("DIMENSION", "Out of dimension"),
    ("MISSING_PART", "Missing part"),
    ("WRONG_PART", "Wrong part"),
    ("FUNCTION_TEST", "Fails function test"),
    ("CONTAMINATION", "Contamination"),
    ("OTHER", "Other (say in the note)"),
)


def defect_codes(*, site: Site) -> list[tuple[str, str]]:
    """The pick list of defect codes at ``site``: its configured codes (or the defaults),
    then any other code already recorded there. One query."""
    configured = site.setting("defect_codes") or DEFAULT_DEFECT_CODES
    codes: list[tuple[str, str]] = [(str(code), str(label)) for code, label in configured]
    known = {code for code, _ in codes}
    used = Defect.objects.filter(site=site).values_list("code", flat=True).distinct().order_by("code")[:100]
    codes.extend((code, code.replace("_", " ").capitalize()) for code in used if code not in known)
    return codes


def pending_inspections(*, user: Any, site: Site) -> QuerySet[OperationRun]:
    """Finished steps waiting for an inspector, oldest first."""
    return (
        OperationRun.objects.restrict(user, "view")
        .filter(site=site, status=RunStatus.DONE, inspection=InspectionState.PENDING)
        .select_related("work_order", "work_order__item", "operation", "workstation")
        .order_by("finished_at", "pk")
    )
