"""Inventory pages: thin views over selectors and services, scoped to the current site."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from inventory import selectors, services
from inventory.charts import line_chart
from inventory.forms import CountForm, ReceiveForm, TransferForm
from inventory.models import CycleCount, CycleCountLine, Lot, TransferOrder
from inventory.scanning import parse_scan
from tracker.errors import DomainError
from tracker.formatting import format_quantity
from tracker.models import Location
from tracker.request_context import require_site
from tracker.selectors import current_site

PAGE = 50


def _page(request, queryset, size: int = PAGE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


@login_required
@require_safe
@permission_required("inventory.view_stocklevel", raise_exception=True)
def stock(request):
    """Stock by location: the site's tree, and the levels under the chosen location."""
    site = require_site(request)
    within = None
    if request.GET.get("within"):
        within = get_object_or_404(
            Location.objects.restrict(request.user, "view"), code=request.GET["within"], site=site
        )
    levels = (
        selectors.stock_levels(user=request.user, site=site, within=within)
        .filter(location__is_virtual=False)
        .exclude(on_hand=0, reserved=0)
    )
    q = request.GET.get("q", "").strip()
    if q:
        levels = levels.filter(item__sku__icontains=q) | levels.filter(item__name__icontains=q)
    context = {
        "site": site,
        "within": within,
        "q": q,
        "page": _page(request, levels),
        "tree": selectors.location_tree_with_totals(user=request.user, site=site),
    }
    return render(request, "inventory/stock.html", context)


@login_required
@require_safe
@permission_required("inventory.view_item", raise_exception=True)
def items(request):
    """Stock by item at the current site."""
    site = require_site(request)
    q = request.GET.get("q", "").strip()
    queryset = selectors.items_with_stock(user=request.user, site=site, q=q).order_by("sku")
    return render(request, "inventory/items.html", {"site": site, "q": q, "page": _page(request, queryset)})


@login_required
@require_safe
@permission_required("inventory.view_item", raise_exception=True)
def item_detail(request, sku: str):
    """An item: its levels, lots and ledger at the current site, and on hand over 90 days."""
    site = require_site(request)
    item = get_object_or_404(selectors.items_for_user(user=request.user), sku=sku)
    series = selectors.on_hand_series(item=item, site=site, days=90)
    context = {
        "site": site,
        "item": item,
        "levels": selectors.item_levels_at_site(user=request.user, item=item, site=site).filter(
            location__is_virtual=False
        ),
        "lots": selectors.item_lots_at_site(user=request.user, item=item, site=site),
        "page": _page(request, selectors.site_moves(user=request.user, site=site, item=item), 25),
        "chart": line_chart(series),
        "available": selectors.available_quantity(item=item, site=site),
    }
    return render(request, "inventory/item_detail.html", context)


def _serials(text: str) -> list[str] | None:
    codes = [c for c in (text or "").replace(",", " ").split() if c]
    return codes or None


def _run_form(request, form_class, template: str, action, success: str):
    site = require_site(request)
    form = form_class(request.POST or None, user=request.user, site=site)
    if request.method == "POST" and form.is_valid():
        try:
            result = action(form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, success.format(result=result))
            return HttpResponseRedirect(request.path)
    return render(request, template, {"site": site, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
@permission_required("inventory.add_stockmove", raise_exception=True)
def receive(request):
    def action(data):
        moves = services.stock_receive(
            item=data["item"],
            quantity=data["quantity"],
            location=data["location"],
            lot_code=data.get("lot") or None,
            serials=_serials(data.get("serial")),
            expiry_date=data.get("expiry_date"),
            reference=data.get("reference", ""),
            supplier=data.get("supplier", ""),
            actor=request.user,
        )
        return f"{format_quantity(sum((m.quantity for m in moves), Decimal(0)), data['item'])} {data['item'].unit}"

    return _run_form(request, ReceiveForm, "inventory/receive.html", action, "Received {result}.")


@login_required
@require_http_methods(["GET", "POST"])
@permission_required("inventory.add_stockmove", raise_exception=True)
def transfer(request):
    def action(data):
        moves = services.stock_transfer(
            item=data["item"],
            quantity=data["quantity"],
            source=data["source"],
            destination=data["destination"],
            lot=data.get("lot"),
            serials=_serials(data.get("serial")),
            actor=request.user,
        )
        moved = format_quantity(data["quantity"], data["item"])
        count = ngettext("%(n)d move", "%(n)d moves", len(moves)) % {"n": len(moves)}
        return f"{moved} {data['item'].unit} {data['item'].sku} from {data['source'].code} to {data['destination'].code} ({count})"

    return _run_form(request, TransferForm, "inventory/transfer.html", action, "Transfer booked: {result}.")


@login_required
@require_http_methods(["GET", "POST"])
@permission_required("inventory.add_cyclecount", raise_exception=True)
def count(request):
    """Record counted quantities; a count of a location stays open until approved."""
    site = require_site(request)
    form = CountForm(request.POST or None, user=request.user, site=site)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            open_count = CycleCount.objects.restrict(request.user, "view").filter(
                site=site, location=data["location"], status=CycleCount.Status.OPEN
            ).first() or services.cycle_count_create(location=data["location"], actor=request.user)
            line = services.cycle_count_record(
                count=open_count,
                item=data["item"],
                location=data["location"],
                counted=data["counted"],
                lot=data.get("lot"),
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            counted, expected = (format_quantity(q, line.item) for q in (line.counted, line.expected))
            messages.success(request, f"Counted {counted} (expected {expected}) {line.item.unit}.")
            return HttpResponseRedirect(request.path)
    open_counts = (
        CycleCount.objects.restrict(request.user, "view")
        .filter(site=site, status=CycleCount.Status.OPEN)
        .select_related("location", "site")
        .prefetch_related(
            Prefetch(
                "lines", queryset=CycleCountLine.objects.select_related("item", "lot", "counted_by").order_by("pk")
            )
        )
        .order_by("-created_at")[:20]
    )
    for cc in open_counts:  # who may approve, from the lines already loaded (no query per count)
        cc.approval_refusal = selectors.count_approval_refusal(  # type: ignore[attr-defined]  # for the template
            count=cc, user=request.user, lines=cc.lines.all()
        )
    return render(request, "inventory/count.html", {"site": site, "form": form, "open_counts": open_counts})


@login_required
@require_POST
@permission_required("inventory.change_cyclecount", raise_exception=True)
def count_approve(request, pk: int):
    site = require_site(request)
    cycle = get_object_or_404(CycleCount.objects.restrict(request.user, "change"), pk=pk, site=site)
    try:
        moves = services.cycle_count_approve(count=cycle, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            ngettext(
                "Count approved: %(n)d adjustment posted.", "Count approved: %(n)d adjustments posted.", len(moves)
            )
            % {"n": len(moves)},
        )
    return HttpResponseRedirect(reverse("inventory:count"))


@login_required
@require_safe
@permission_required("inventory.view_stocklevel", raise_exception=True)
def replenishment(request):
    site = require_site(request)
    return render(
        request,
        "inventory/replenishment.html",
        {
            "site": site,
            "rows": selectors.replenishment(user=request.user, site=site),
        },
    )


@login_required
@require_safe
@permission_required("inventory.view_stocklevel", raise_exception=True)
def expiring(request):
    site = require_site(request)
    try:
        days = max(0, min(int(request.GET.get("days", 30)), 3650))
    except ValueError:
        days = 30
    rows = selectors.expiring_lots(user=request.user, site=site, days=days)
    return render(request, "inventory/expiring.html", {"site": site, "days": days, "page": _page(request, rows)})


@login_required
@require_safe
@permission_required("inventory.view_lot", raise_exception=True)
def trace(request):
    """Backward or forward trace of a lot (SKU/CODE) or serial (SKU/SERIAL)."""
    site = require_site(request)
    lot_key, serial_key = request.GET.get("lot", "").strip(), request.GET.get("serial", "").strip()
    direction = "forward" if request.GET.get("direction") == "forward" else "backward"
    tree, subject_lot = None, None
    if lot_key or serial_key:
        lot, serial = _trace_subject(request.user, lot_key, serial_key)
        subject_lot = lot
        fn = selectors.trace_forward if direction == "forward" else selectors.trace_backward
        try:
            tree = fn(user=request.user, lot=lot, serial=serial)
        except DomainError as exc:
            raise Http404(exc.detail) from exc
    return render(
        request,
        "inventory/trace.html",
        {
            "site": site,
            "tree": tree,
            "direction": direction,
            "lot_key": lot_key,
            "serial_key": serial_key,
            "subject_lot": subject_lot,
            "can_recall": request.user.has_perm("inventory.change_lot"),
        },
    )


def _trace_subject(user, lot_key: str, serial_key: str):
    if serial_key:
        sku, _, code = serial_key.partition("/")
        unit = (
            selectors.traceable_serials(user=user)
            .filter(item__sku=sku, serial=code)
            .select_related("item", "lot")
            .first()
        )
        if unit is None:
            raise Http404("No such serial.")
        return None, unit
    sku, _, code = lot_key.partition("/")
    lot = Lot.objects.restrict(user, "view").filter(item__sku=sku, code=code).select_related("item").first()
    if lot is None:
        raise Http404("No such lot.")
    return lot, None


@login_required
@require_POST
@permission_required("inventory.change_lot", raise_exception=True)
def recall(request):
    lot, _ = _trace_subject(request.user, request.POST.get("lot", ""), "")
    result = services.lot_recall(lot=lot, actor=request.user, reason=request.POST.get("reason", ""))
    return render(request, "inventory/recall_result.html", {"site": require_site(request), "result": result})


@login_required
@require_GET
def scan_parse(request):
    """JSON for static/inventory/scan.js: the fields a scan fills in, resolved among
    what the user may see at the current site (another site's location: an error)."""
    return JsonResponse(parse_scan(request.GET.get("code", ""), user=request.user, site=current_site(request)))


def _in_transit_page(request, *, error: str = "", status: int = 200):
    site = require_site(request)
    rows = selectors.in_transit_rows(user=request.user, site=site)
    return render(
        request,
        "inventory/in_transit.html",
        {
            "site": site,
            "inbound": [r for r in rows if r["direction"] == "inbound"],
            "outbound": [r for r in rows if r["direction"] == "outbound"],
            "missing": selectors.missing_serial_rows(user=request.user, site=site),
            "can_book_found": request.user.has_perm("inventory.change_transferorder"),
            "error": error,
        },
        status=status,
    )


@login_required
@require_safe
@permission_required("inventory.view_transferorder", raise_exception=True)
def in_transit(request):
    """What travels from and to the current site on transfer orders, line by line, and the
    serials that closed orders recorded missing (with a form to book one found)."""
    return _in_transit_page(request)


@login_required
@require_POST
@permission_required("inventory.change_transferorder", raise_exception=True)
def in_transit_found(request):
    """Book a missing serial found at a location of the current site. The order is looked up
    among the user's orders, the location among the user's at this site (else 404); a refusal
    re-shows the page with the reason (400/409) and changes nothing."""
    site = require_site(request)
    order = get_object_or_404(TransferOrder.objects.restrict(request.user, "view"), number=request.POST.get("order"))
    item = get_object_or_404(selectors.items_for_user(user=request.user), sku=request.POST.get("item"))
    code = (request.POST.get("location") or "").strip()
    location = Location.objects.restrict(request.user, "view").filter(code=code, site=site).first()
    if location is None:
        return _in_transit_page(request, error=f"No location {code!r} at {site.code}.", status=400)
    serial = (request.POST.get("serial") or "").strip()
    try:
        services.transfer_order_serial_found(
            order=order, serial=serial, item=item, location=location, actor=request.user
        )
    except DomainError as exc:
        return _in_transit_page(request, error=str(exc.detail), status=exc.status)
    messages.success(request, f"Serial {serial} of {item.sku} booked found at {location.code}.")
    return HttpResponseRedirect(reverse("inventory:in_transit"))
