"""Inventory API: thin views over services and selectors.

Scoping: every queryset is restricted in ``initial()`` (tracker.api.base);
writable related fields (item, location, site) are ``ScopedSlugRelatedField``
so another site's location is "does not exist" (400) and nothing is written.
Items are global master data: visible to users with ``inventory.view_item``
and at least one site (``ItemQuerySet.restrict``). Every write is
``@idempotent_write`` (Idempotency-Key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.db_routers import replica_alias
from inventory import csvio, selectors, services
from inventory import errors as inventory_errors
from inventory.api import filters, inputs
from inventory.api import serializers as s
from inventory.models import (
    Item,
    Lot,
    Receipt,
    SerialUnit,
    Shipment,
    StockLevel,
    StockMove,
    StockReservation,
)
from inventory.selectors import level_page
from inventory.selectors.level_page import LevelRows
from tracker.api.access import Access, Needs
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.idempotency import idempotent_write
from tracker.api.pagination import CountedRows, LedgerCursorPagination, PageNumberPagination
from tracker.errors import DomainError, NotFound

#: A CSV import answers its report: 200 when imported (or valid, for a dry run), else 400.
IMPORTED = {200: s.ImportReportSerializer, 400: s.ImportReportSerializer}

READ = "read_inventory"
WRITE = "write_receipts_shipments"


def _split_key(key: str) -> tuple[str, str]:
    sku, _, code = key.partition("/")
    return sku, code


class ItemViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = Item.objects.all()
    serializer_class = s.ItemSerializer
    filterset_class = filters.ItemFilter
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["sku", "name"]
    access = Access(read=READ, write=WRITE, actions={"import_csv": Needs("add")})

    @idempotent_write
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.item_create(actor=request.user, **serializer.validated_data)
        return Response(s.ItemSerializer(item).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("sku", None)
        serializer.instance = services.item_update(item=serializer.instance, actor=self.request.user, **data)

    @extend_schema(parameters=[OpenApiParameter("dry_run", bool)], request={"text/csv": str}, responses=IMPORTED)
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser, JSONParser])
    @idempotent_write
    def import_csv(self, request):
        """CSV of items (create or update). ``dry_run=true`` validates only; any bad row: nothing imported."""
        text, dry_run = _csv_payload(request)
        return _import_response(csvio.items_import(text=text, dry_run=dry_run, actor=request.user))


def _import_response(report: csvio.ImportReport) -> Response:
    return Response(s.ImportReportSerializer(report).data, status=200 if report.ok else 400)


def _csv_payload(request) -> tuple[str, bool]:
    upload = request.FILES.get("file")
    if upload is not None:
        text = upload.read().decode("utf-8-sig", errors="replace")
    else:
        text = request.data.get("csv", "") if hasattr(request.data, "get") else ""
    dry_value = request.query_params.get("dry_run") or (
        request.data.get("dry_run") if hasattr(request.data, "get") else ""
    )
    dry_run = str(dry_value).lower() in {"1", "true", "yes", "on"}
    if not text:
        raise serializers.ValidationError({"file": ["Upload a CSV file (field 'file') or send 'csv' text."]})
    return text, dry_run


class StockLevelViewSet(ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = StockLevel.objects.order_by("location__path", "item__sku", "lot__code", "pk")
    serializer_class = s.StockLevelSerializer
    filterset_class = filters.StockLevelFilter
    ordering_fields = ["on_hand", "updated_at"]
    # Opening stock posts moves: the import needs inventory.add_stockmove.
    access = Access(read=READ, write=WRITE, actions={"import_csv": Needs("add", model=StockMove)})

    def get_queryset(self) -> QuerySet[StockLevel]:
        queryset = super().get_queryset()
        # The serializer's actions read the related rows; the list's values_list() needs none (and
        # every clone on its way would deep-copy a select_related).
        return queryset if self.action == "list" else queryset.select_related("item", "location", "lot", "site")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stock levels at the sites you may see, by location, SKU and lot unless ``ordering`` says otherwise."""
        # The page as StockLevelSerializer would show it, from the shown columns only (a row costs a
        # tuple and a dict, not four model instances and a serializer): in the default order from
        # inventory.selectors.level_page's plain SQL, in an asked-for order from values_list() of
        # the filtered queryset (same filters, scoping and order).
        rows: Any = self._in_default_order(request)
        if rows is not None and isinstance(self.paginator, PageNumberPagination):
            rows.expect(self.paginator.expected_slice(request))  # the page comes with its count, in one query
        if rows is None:
            filtered = self.filter_queryset(self.get_queryset())
            rows = CountedRows(filtered.values_list(*s.LEVEL_COLUMNS), filtered)
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(s.level_rows(rows[:]))
        return self.get_paginated_response(s.level_rows(page))

    def _in_default_order(self, request: Request) -> LevelRows | None:
        """The rows in plain SQL, or None when the request names an order (the ORM path's)."""
        if request.query_params.get(api_settings.ORDERING_PARAM):
            return None
        # The FilterSet only validates here: a queryset of the model, not the restricted one (never built).
        filterset = DjangoFilterBackend().get_filterset(request, StockLevel.objects.none(), self)
        if not filterset.is_valid():  # the 400 the filter backend answers
            raise filter_utils.translate_validation(filterset.errors)
        values = filterset.form.cleaned_data
        if not level_page.handles(values):  # a filter the plain SQL does not know: the ORM path's
            return None
        return level_page.level_rows_in_default_order(user=request.user, values=values)

    @action(detail=False, methods=["get"])
    def export(self, request):
        """All levels matching the filters as CSV (formula-like cells neutralised)."""
        # Read-only and streamed after the view returns: named on the queryset, not in a block.
        levels = self.filter_queryset(self.get_queryset()).using(replica_alias()).iterator(chunk_size=2000)
        response = StreamingHttpResponse(csvio.levels_csv(levels), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="stock-levels.csv"'
        return response

    @extend_schema(parameters=[OpenApiParameter("dry_run", bool)], request={"text/csv": str}, responses=IMPORTED)
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser, JSONParser])
    @idempotent_write
    def import_csv(self, request):
        """Opening stock as CSV (sku, location, quantity, lot, expiry_date, serials); all or nothing."""
        text, dry_run = _csv_payload(request)
        return _import_response(
            csvio.opening_stock_import(text=text, dry_run=dry_run, user=request.user, actor=request.user)
        )


class StockMoveViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = StockMove.objects.select_related("item", "source", "destination", "lot", "serial", "actor")
    serializer_class = s.StockMoveSerializer
    filterset_class = filters.StockMoveFilter
    pagination_class = LedgerCursorPagination
    ordering_fields: list[str] = []  # cursor pagination owns the order (newest first)
    access = Access(read=READ, write=WRITE)

    @extend_schema(request=s.MoveCreateSerializer, responses={201: s.MovesPostedSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        """Post a move: ``kind`` is receive, transfer, issue, adjust or scrap."""
        data = inputs.move_input(request.data, request.user)
        if data is None:  # not valid as it stands: the serializer says what is wrong
            serializer = s.MoveCreateSerializer(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        moves = _post_move(data, request.user)
        return Response({"moves": [s.move_row(m) for m in moves]}, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["get"])
    def export(self, request):
        """Moves matching the filters as CSV (newest first, at most 100,000 rows)."""
        newest = self.filter_queryset(self.get_queryset()).using(replica_alias()).order_by("-id")[:100_000]
        moves = newest.iterator(chunk_size=2000)  # a replica's, when one is configured
        response = StreamingHttpResponse(csvio.moves_csv(moves), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="stock-moves.csv"'
        return response


def _post_move(data: dict, user) -> list[StockMove]:
    item = data["item"]
    services.check_unit(item=item, unit=data.get("unit"))
    common = {"item": item, "actor": user}
    kind = data["kind"]
    reference = data.get("reference", "")
    if kind == "receive":
        return services.stock_receive(
            **common,
            quantity=data["quantity"],
            location=data["location"],
            lot_code=data.get("lot") or None,
            serials=data.get("serials"),
            expiry_date=data.get("expiry_date"),
            manufactured_date=data.get("manufactured_date"),
            reference=reference,
            reference_type=data.get("reference_type", "purchase_order"),
            supplier=data.get("supplier", ""),
            occurred_at=data.get("occurred_at"),
            external_id=data.get("external_id", ""),
        )
    if kind == "transfer":
        return services.stock_transfer(
            **common,
            quantity=data["quantity"],
            source=data["source"],
            destination=data["destination"],
            lot=data.get("lot"),
            serials=data.get("serials"),
            reference=reference,
            reference_type=data.get("reference_type", "transfer"),
            occurred_at=data.get("occurred_at"),
        )
    if kind == "issue":
        return services.stock_issue(
            **common,
            quantity=data["quantity"],
            location=data["location"],
            lot=data.get("lot"),
            serials=data.get("serials"),
            reference=reference,
            reference_type=data.get("reference_type", "work_order"),
            occurred_at=data.get("occurred_at"),
        )
    if kind == "scrap":
        return services.stock_scrap(
            **common,
            quantity=data["quantity"],
            location=data["location"],
            lot=data.get("lot"),
            serials=data.get("serials"),
            reason=data.get("reason", ""),
            reference=reference,
            reference_type=data.get("reference_type", ""),
            occurred_at=data.get("occurred_at"),
        )
    return services.stock_adjust(
        **common,
        location=data["location"],
        quantity_delta=data["quantity"],
        lot=data.get("lot"),
        serials=data.get("serials"),
        reason=data.get("reason", ""),
        occurred_at=data.get("occurred_at"),
    )


if TYPE_CHECKING:  # the mixin comes before a viewset, whose get_object() it replaces
    _ViewSetBase = viewsets.GenericViewSet[Any]
else:
    _ViewSetBase = object


class _KeyedMixin(_ViewSetBase):
    """Detail URLs by natural key ``<SKU>/<code>``."""

    lookup_field = "key"
    lookup_value_regex = "[^/]+/[^/]+"
    key_field = "code"

    def get_object(self):
        sku, code = _split_key(self.kwargs["key"])
        obj = get_object_or_404(self.get_queryset(), item__sku=sku, **{self.key_field: code})
        self.check_object_permissions(self.request, obj)
        return obj


class LotViewSet(_KeyedMixin, ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = Lot.objects.select_related("item", "site").order_by("item__sku", "code")
    serializer_class = s.LotSerializer
    filterset_class = filters.LotFilter
    ordering_fields = ["code", "expiry_date", "created_at"]
    access = Access(read=READ, write=WRITE, actions={"set_status": Needs("change"), "recall": Needs("change")})

    @extend_schema(request=s.LotStatusSerializer, responses=s.LotSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    @idempotent_write
    def set_status(self, request, key=None):
        lot = self.get_object()
        body = s.LotStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.lot_set_status(lot=lot, actor=request.user, **body.validated_data)
        return Response(s.LotSerializer(updated).data)

    @extend_schema(request=s.RecallSerializer, responses=s.RecallResultSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def recall(self, request, key=None):
        """Recall the lot: downstream lots and serials still in stock go on hold; affected shipments listed."""
        lot = self.get_object()
        body = s.RecallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.lot_recall(lot=lot, actor=request.user, reason=body.validated_data["reason"])
        return Response(s.RecallResultSerializer(result).data)


class SerialViewSet(_KeyedMixin, ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = SerialUnit.objects.select_related("item", "lot", "location").order_by("item__sku", "serial")
    serializer_class = s.SerialSerializer
    filterset_class = filters.SerialFilter
    key_field = "serial"
    access = Access(read=READ)


class _DocumentViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    access = Access(read=READ, write=WRITE)
    #: The service that posts the document (a staticmethod in each subclass).
    service: Callable[..., Any]
    partner_arg = ""

    def _line(self, line: dict[str, Any], lot_of: Callable[[Item, str | None], Lot | None]) -> dict[str, Any]:
        """One validated line as the service takes it (raises the line's domain error)."""
        services.check_unit(item=line["item"], unit=line.get("unit"))
        line = dict(line)
        if self.partner_arg == "supplier":
            line["lot_code"] = line.pop("lot", None) or None
        else:
            line["lot"] = lot_of(line["item"], line.get("lot"))
        return line

    @idempotent_write
    def create(self, request, *args, **kwargs):
        fast = inputs.document_input(request.data, request.user, with_lots=self.partner_arg != "supplier")
        if fast is not None:
            data, lot_of = fast.data, fast.lot
        else:  # not valid as it stands: the serializer says what is wrong
            body = s.DocumentCreateSerializer(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            data = body.validated_data

            def lot_of(item: Item, code: str | None) -> Lot | None:
                return s.lot_by_code(request.user, item, code)

        # Every bad line is named: the view's own checks (unit, lot by code among the user's
        # lots) first, then the service's over the lines that passed them, in one problem.
        bad: list[tuple[int, DomainError]] = []
        lines, positions = [], []
        for index, line in enumerate(data["lines"]):
            try:
                lines.append(self._line(line, lot_of))
                positions.append(index)
            except DomainError as exc:
                bad.append((index, exc))
        doc = None
        if lines:
            try:
                doc = type(self).service(
                    site=data["site"],
                    reference=data["reference"],
                    lines=lines,
                    external_id=data["external_id"],
                    actor=request.user,
                    occurred_at=data.get("occurred_at"),
                    **{self.partner_arg: data["partner"]},
                )
            except inventory_errors.LinesInvalid as exc:
                bad += exc.shifted(positions)
        if bad or doc is None:
            # Raised inside @idempotent_write's transaction: whatever the good lines posted rolls back.
            raise inventory_errors.LinesInvalid(bad)
        # ReceiptPostedSerializer's / ShipmentPostedSerializer's shape (the schema's), built without them
        return Response(s.document_posted_row(doc), status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(request=s.DocumentCreateSerializer, responses={201: s.ReceiptPostedSerializer})
)
class ReceiptViewSet(_DocumentViewSet):
    """A purchase order's lines received at once (all or nothing)."""

    queryset = Receipt.objects.select_related("site")
    serializer_class = s.ReceiptSerializer
    filterset_fields = ["reference", "external_id"]
    service = staticmethod(services.receipt_create)
    partner_arg = "supplier"


@extend_schema_view(
    create=extend_schema(request=s.DocumentCreateSerializer, responses={201: s.ShipmentPostedSerializer})
)
class ShipmentViewSet(_DocumentViewSet):
    """A sales order's lines shipped at once (all or nothing)."""

    queryset = Shipment.objects.select_related("site")
    serializer_class = s.ShipmentSerializer
    filterset_fields = ["reference", "external_id"]
    service = staticmethod(services.shipment_create)
    partner_arg = "customer"


class ReservationViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    queryset = StockReservation.objects.select_related("item", "site", "lot", "location")
    serializer_class = s.ReservationSerializer
    filterset_fields = ["reference", "reference_type", "status"]
    access = Access(read=READ, write=WRITE, actions={"release": Needs("change")})

    @extend_schema(request=s.ReserveSerializer, responses={201: s.ReservationSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        body = s.ReserveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["lot"] = s._LotByCode.resolve(body, data["item"], data.get("lot"))
        reservation = services.stock_reserve(actor=request.user, **data)
        return Response(s.ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReleaseSerializer, responses=s.ReleasedSerializer)
    @action(detail=False, methods=["post"])
    @idempotent_write
    def release(self, request):
        body = s.ReleaseSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # Only references the user can see at one of their sites may be released.
        if not self.get_queryset().filter(reference=data["reference"], reference_type=data["reference_type"]).exists():
            raise NotFound("No open reservation with that reference.")
        count = services.stock_release_reservation(
            reference=data["reference"], reference_type=data["reference_type"], item=data.get("item")
        )
        return Response(s.ReleasedSerializer({"released": count}).data)


class TraceView(APIView):
    """``GET ?lot=SKU/CODE`` or ``?serial=SKU/SERIAL`` and ``direction=backward|forward``."""

    access = Access(read=READ)

    @extend_schema(
        parameters=[
            OpenApiParameter("lot", str),
            OpenApiParameter("serial", str),
            OpenApiParameter("direction", str, enum=["backward", "forward"]),
        ],
        responses=s.TraceSerializer,
    )
    def get(self, request):
        lot, serial = resolve_trace_subject(
            request.user, request.query_params.get("lot"), request.query_params.get("serial")
        )
        direction = request.query_params.get("direction", "backward")
        if direction not in ("backward", "forward"):
            raise serializers.ValidationError({"direction": ["backward or forward"]})
        trace = selectors.trace_backward if direction == "backward" else selectors.trace_forward
        tree = trace(user=request.user, lot=lot, serial=serial)
        return Response(s.TraceSerializer({"direction": direction, "tree": tree}).data)


def resolve_trace_subject(user, lot_key: str | None, serial_key: str | None):
    """The lot or serial named by ``SKU/code``, among those ``user`` may trace (else 404,
    as for a missing one): lots by ``restrict()``, serials by ``traceable_serials``."""
    if serial_key:
        sku, code = _split_key(serial_key)
        unit = (
            selectors.traceable_serials(user=user)
            .filter(item__sku=sku, serial=code)
            .select_related("item", "lot")
            .first()
        )
        if unit is None:
            raise NotFound("No such serial.")
        return None, unit
    if lot_key:
        sku, code = _split_key(lot_key)
        lot = Lot.objects.restrict(user, "view").filter(item__sku=sku, code=code).select_related("item").first()
        if lot is None:
            raise NotFound("No such lot.")
        return lot, None
    raise serializers.ValidationError({"lot": ["Give lot=SKU/CODE or serial=SKU/SERIAL."]})
