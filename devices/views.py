"""The devices page: devices with last seen, battery and status; unknown tags to assign."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from devices import selectors, services
from devices.forms import AssignTagForm
from devices.models import UnknownTag
from tracker.errors import DomainError
from tracker.request_context import require_site

#: Saying what a tag tracks changes the tag (plant managers and admins hold it).
ASSIGN_PERMISSION = "devices.change_tag"


@login_required
@require_safe
def index(request):
    site = require_site(request)
    devices = selectors.devices_for_site(user=request.user, site=site)
    unknown = Paginator(selectors.unknown_tags(user=request.user, site=site), 50).get_page(request.GET.get("page"))
    context = {
        "site": site,
        "devices": devices,
        "unknown": unknown,
        "counts": selectors.upload_counts(user=request.user, site=site),
        "can_assign": request.user.has_perm(ASSIGN_PERMISSION),
        "form": AssignTagForm(),
    }
    template = (
        "devices/_device_rows.html" if request.htmx and request.GET.get("part") == "devices" else ("devices/index.html")
    )
    return render(request, template, context)


@login_required
@require_safe
def device_detail(request, device_id: str):
    site = require_site(request)
    device = selectors.device_get(user=request.user, site=site, device_id=device_id)
    if device is None:
        raise Http404("No such device.")
    uploads = selectors.uploads_recent(user=request.user, device=device)
    return render(request, "devices/detail.html", {"site": site, "device": device, "uploads": uploads})


@login_required
@require_POST
def assign_unknown(request, tag_pk: int):
    site = require_site(request)
    unknown = (
        UnknownTag.objects.restrict(request.user, "view").filter(site=site, pk=tag_pk).select_related("tag").first()
    )
    # Seeing the tag (site grant) and the permission to change tags are both needed;
    # anything else is "not found".
    if unknown is None or not request.user.has_perm(ASSIGN_PERMISSION):
        raise Http404("No such tag.")
    form = AssignTagForm(request.POST, site=site, user=request.user)
    if form.is_valid():
        try:
            services.tag_assign(site=site, tag_id=unknown.tag.tag_id, actor=request.user, **form.target())
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Tag {unknown.tag.tag_id} assigned.")
    else:
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return HttpResponseRedirect(reverse("devices:index"))
