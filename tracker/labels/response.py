"""One response helper for the label pages: ``?format=pdf`` (sheet), ``zpl``, else an HTML preview."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from tracker.labels.label import Label
from tracker.labels.pdf import labels_pdf
from tracker.labels.symbols import label_svg
from tracker.labels.zpl import labels_zpl


def labels_response(
    request, labels: Sequence[Label], *, filename: str, title: str, errors: Sequence[str] = ()
) -> HttpResponse:
    fmt = request.GET.get("format", "html")
    if fmt == "pdf" and labels:
        response = HttpResponse(labels_pdf(labels, title=title), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        return response
    if fmt == "zpl" and labels:
        response = HttpResponse(labels_zpl(labels), content_type="application/zpl; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.zpl"'
        return response
    query = request.GET.copy()
    query.pop("format", None)
    previews = [mark_safe(label_svg(label)) for label in labels]  # noqa: S308 - built from escaped parts in label_svg
    return render(
        request,
        "labels/sheet.html",
        {
            "title": title,
            "previews": previews,
            "errors": errors,
            "query": query.urlencode(),
            "count": len(labels),
        },
    )
