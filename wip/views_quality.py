"""The quality inspector's pages: record an inspection against a step awaiting one.

Thin like ``wip.views``: the run is looked up through ``restrict()`` in the
current site (another site's is a 404), the form's answers go to
``services.inspection_record`` as they are, and its refusal comes back as a message.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tracker.errors import DomainError, ValidationFailed
from tracker.request_context import require_site
from wip import selectors, services
from wip.models import CheckItem, CheckKind, InspectionState, OperationRun, RunStatus


def _quantity(text: str, field: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValidationFailed(f"{text!r} is not a number.", field=field) from exc


def _results(request: HttpRequest, checks: list[CheckItem]) -> list[dict[str, Any]]:
    """One result per check item from the form: ``check-<pk>`` is pass/fail or the measured value."""
    results: list[dict[str, Any]] = []
    for check in checks:
        answer = (request.POST.get(f"check-{check.pk}") or "").strip()
        if check.kind == CheckKind.MEASUREMENT:
            results.append({"check": check.name, "value": answer or None})
        else:
            results.append({"check": check.name, "passed": {"pass": True, "fail": False}.get(answer)})
    return results


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@permission_required("wip.add_inspection", raise_exception=True)
def inspect(request: HttpRequest, pk: int) -> HttpResponse:
    site = require_site(request)
    run = get_object_or_404(
        OperationRun.objects.restrict(request.user, "view").select_related(
            "work_order", "work_order__item", "operation", "workstation"
        ),
        pk=pk,
        site=site,
    )
    checks = list(CheckItem.objects.filter(operation_id=run.operation_id).order_by("sequence", "pk"))
    pending = run.status == RunStatus.DONE and run.inspection == InspectionState.PENDING
    if request.method == "POST" and pending:
        failed = (request.POST.get("failed_quantity") or "").strip()
        try:
            inspection = services.inspection_record(
                run=run,
                results=_results(request, checks),
                passed={"pass": True, "fail": False}.get(request.POST.get("passed", "")),
                inspector=request.user,
                notes=request.POST.get("notes", ""),
                failed_quantity=_quantity(failed, "failed_quantity") if failed else None,
                defect_code=request.POST.get("defect_code") or "INSPECTION_FAILED",
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            number = run.work_order.number
            if inspection.result == "pass":
                messages.success(request, f"{number} step {run.sequence} passed inspection.")
            else:
                messages.warning(request, f"{number} step {run.sequence} failed: its defect waits for a decision.")
            return HttpResponseRedirect(reverse("wip:quality"))
    return render(
        request,
        "wip/inspect.html",
        {
            "site": site,
            "run": run,
            "wo": run.work_order,
            "checks": checks,
            "pending": pending,
            "defect_codes": selectors.defect_codes(site=site),
            "posted": request.POST if request.method == "POST" else {},
        },
    )
