"""Transfer orders between sites through the API: create, dispatch, receive, close, and
what is in transit per site.

Both sites' users see an order (``TransferOrderQuerySet.site_q``); each acts on its side:
the source site dispatches, the destination site receives, either closes, and either books
a serial that closing recorded missing found (``found``) at one of its locations. Acting on the
other side's step is a 403 naming the side; an order of neither of the user's sites is a
404. The source location is looked up among the user's locations; the destination is any
active real location (it is at another site, which the sender may not hold).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from inventory import errors as inventory_errors
from inventory import selectors, services
from inventory.api.serializers import QTY, MovesPostedSerializer, _item_field, _location_field, lot_by_code
from inventory.models import TransferOrder
from tracker.api.access import Access, Needs
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.idempotency import idempotent_write
from tracker.errors import DomainError, NotFound, ValidationFailed
from tracker.models import Location, Site
from tracker.scoping import granted_site_ids


class FoundSerialSerializer(serializers.Serializer):
    serial = serializers.CharField()
    location = serializers.CharField(help_text="Where it was booked back into stock")
    found_at = serializers.DateTimeField()
    found_by = serializers.CharField(help_text="Username (blank: the system)")
    move = serializers.IntegerField(help_text="The ledger move that booked it")


class DiscrepancySerializer(serializers.Serializer):
    kind = serializers.CharField()
    quantity = serializers.DecimalField(**QTY)
    reason = serializers.CharField()
    serials = serializers.ListField(child=serializers.CharField(), help_text="The serials it concerns")
    found = FoundSerialSerializer(many=True, help_text="A shortfall's serials found since")
    recorded_at = serializers.DateTimeField()


class TransferSerialSerializer(serializers.Serializer):
    serial = serializers.CharField()
    state = serializers.ChoiceField(choices=["in_transit", "received", "missing", "found"])


class TransferLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.CharField(source="item.sku")
    unit = serializers.CharField(source="item.unit")
    lot = serializers.CharField(source="lot.code", allow_null=True, default=None)
    quantity = serializers.DecimalField(**QTY)
    received = serializers.DecimalField(**QTY)
    lost = serializers.DecimalField(**QTY)
    in_transit = serializers.DecimalField(**QTY)
    serials = TransferSerialSerializer(many=True, help_text="A serial-tracked line's units, from dispatch on")
    discrepancies = DiscrepancySerializer(many=True)


class TransferOrderSerializer(serializers.ModelSerializer):
    source_site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    destination_site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    source = serializers.SlugRelatedField(slug_field="code", read_only=True)  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    destination = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="draft, in_transit, partial, received, closed")
    lines = TransferLineSerializer(many=True, read_only=True)

    class Meta:
        model = TransferOrder
        fields = [
            "number",
            "reference",
            "status",
            "source_site",
            "source",
            "destination_site",
            "destination",
            "created_at",
            "dispatched_at",
            "expected_by",
            "closed_at",
            "close_reason",
            "lines",
        ]


class TransferLineCreateSerializer(serializers.Serializer):
    item = _item_field()
    quantity = serializers.DecimalField(**QTY)
    lot = serializers.CharField(required=False, allow_blank=True)


class TransferCreateSerializer(serializers.Serializer):
    number = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    source = _location_field(help_text="At one of your sites")  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    destination = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Location.objects.filter(is_virtual=False, active=True),
        help_text="A real location at the destination site (usually its dock)",
    )
    lines = TransferLineCreateSerializer(many=True, allow_empty=False, max_length=500)  # type: ignore[call-arg]


def _serials_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=10000, allow_empty=False, **kwargs
    )


class TransferDispatchLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="the line's id (or item and lot)")
    item = _item_field()
    lot = serializers.CharField(required=False, allow_blank=True)
    serials = _serials_field(help_text="As many as the line's quantity, in stock at the source")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].required = False


class TransferDispatchSerializer(serializers.Serializer):
    lines = TransferDispatchLineSerializer(
        many=True, required=False, max_length=500, help_text="The serials of each serial-tracked line"
    )


class TransferReceiveLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="the line's id (or item and lot)")
    item = _item_field()
    lot = serializers.CharField(required=False, allow_blank=True)
    quantity = serializers.DecimalField(**QTY, required=False, help_text="Required unless serials are named")
    serials = _serials_field(required=False, help_text="A serial-tracked line: the serials that arrived")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].required = False


class TransferReceiveSerializer(serializers.Serializer):
    location = _location_field(required=False, help_text="Where it is put (default: the order's destination)")
    lines = TransferReceiveLineSerializer(many=True, allow_empty=False, max_length=500)


class TransferCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why what did not arrive is written off")


class TransferSerialFoundSerializer(serializers.Serializer):
    serial = serializers.CharField(max_length=64, help_text="A serial recorded missing when the order closed")
    item = _item_field()
    location = _location_field(help_text="Where it is put: at the order's source or destination site, one of yours")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].required = False
        self.fields["item"].help_text = "Only if two items on the order share the serial"


class InTransitRowSerializer(serializers.Serializer):
    number = serializers.CharField()
    direction = serializers.ChoiceField(choices=["outbound", "inbound"])
    from_site = serializers.CharField()
    to_site = serializers.CharField()
    item = serializers.CharField()
    unit = serializers.CharField()
    lot = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(**QTY)
    serials = serializers.ListField(child=serializers.CharField(), help_text="A serial-tracked line's units travelling")
    dispatched_at = serializers.DateTimeField()
    expected_by = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()


SIDE = Needs("change", model=TransferOrder)


class TransferOrderViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    queryset = (
        TransferOrder.objects.select_related("source_site", "destination_site", "source", "destination")
        .prefetch_related("lines__item", "lines__lot", "lines__discrepancies")
        .order_by("-created_at", "-pk")
    )
    serializer_class = TransferOrderSerializer
    filterset_fields = ["status", "reference"]
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    access = Access(
        read="read_inventory",
        write="write_receipts_shipments",
        actions={"dispatch_order": SIDE, "receive": SIDE, "close": SIDE, "found": SIDE},
    )

    def _side(self, order: TransferOrder, *site_ids: int) -> None:
        if not self.request.user.is_superuser and not set(site_ids) & set(granted_site_ids(self.request.user)):
            raise PermissionDenied("This step is the other site's.")

    @extend_schema(request=TransferCreateSerializer, responses={201: TransferOrderSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        body = TransferCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lines, bad = [], []
        for index, line in enumerate(data["lines"]):
            try:
                lines.append({**line, "lot": lot_by_code(request.user, line["item"], line.get("lot"))})
            except DomainError as exc:
                bad.append((index, exc))
        if bad:
            raise inventory_errors.LinesInvalid(bad)
        order = services.transfer_order_create(
            source=data["source"],
            destination=data["destination"],
            lines=lines,
            reference=data["reference"],
            number=data["number"],
            actor=request.user,
        )
        return Response(self._fresh(order), status=status.HTTP_201_CREATED)

    def _fresh(self, order: TransferOrder) -> dict[str, Any]:
        return TransferOrderSerializer(self.get_queryset().get(pk=order.pk)).data

    def _on_order(self, order: TransferOrder, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each entry with its ``line`` id: given, or found by item (and lot code) on the order.
        A lot travelling here is named by its code on the order's lines (the receiving site may
        not see the lot until it arrives)."""
        on_order = {(line.item_id, line.lot.code if line.lot else ""): line.pk for line in order.lines.all()}
        lines, bad = [], []
        for index, line in enumerate(entries):
            try:
                if line.get("line") is None:
                    if line.get("item") is None:
                        raise ValidationFailed("Name the line, or its item (and lot).", field="line")
                    pk = on_order.get((line["item"].pk, line.get("lot") or ""))
                    if pk is None:
                        raise ValidationFailed(
                            f"No line of {line['item'].sku} with that lot on the order.", field="lot"
                        )
                    line = {**line, "line": pk}
                lines.append(line)
            except DomainError as exc:
                bad.append((index, exc))
        if bad:
            raise inventory_errors.LinesInvalid(bad)
        return lines

    @extend_schema(request=TransferDispatchSerializer, responses=MovesPostedSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    @idempotent_write
    def dispatch_order(self, request, number=None):  # (``dispatch`` is the view's own method)
        """The source site ships it: stock leaves into the source site's in-transit location
        (a serial-tracked line's units named: ``lines`` of ``line`` or ``item``, and ``serials``)."""
        order = self.get_object()
        self._side(order, order.source_site_id)
        body = TransferDispatchSerializer(data=request.data or {}, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        serials: dict[int, list[str]] = {}
        for entry in self._on_order(order, body.validated_data.get("lines", [])):
            if entry["line"] in serials:
                raise ValidationFailed("A line is named twice.", field="lines")
            serials[entry["line"]] = entry["serials"]
        moves = services.transfer_order_dispatch(order=order, serials=serials, actor=request.user)
        return Response(MovesPostedSerializer({"moves": moves}).data)

    @extend_schema(request=TransferReceiveSerializer, responses=MovesPostedSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def receive(self, request, number=None):
        """The destination site receives what arrived (all or part; an overage needs a reason;
        a serial-tracked line names the serials that arrived)."""
        order = self.get_object()
        self._side(order, order.destination_site_id)
        body = TransferReceiveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        lines = self._on_order(order, body.validated_data["lines"])
        moves = services.transfer_order_receive(
            order=order, lines=lines, location=body.validated_data.get("location"), actor=request.user
        )
        return Response(MovesPostedSerializer({"moves": moves}).data)

    @extend_schema(request=TransferCloseSerializer, responses=MovesPostedSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def close(self, request, number=None):
        """Close it: what still travels is written off as a shortfall, with the reason."""
        order = self.get_object()
        self._side(order, order.source_site_id, order.destination_site_id)
        body = TransferCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        moves = services.transfer_order_close(order=order, reason=body.validated_data["reason"], actor=request.user)
        return Response(MovesPostedSerializer({"moves": moves}).data)

    @extend_schema(request=TransferSerialFoundSerializer, responses=MovesPostedSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def found(self, request, number=None):
        """A serial recorded missing when the order closed has turned up: book it back into
        stock at ``location`` (either site's), from the source site's adjustment location.
        A serial not on the order: 404; one not missing (travelling, received, found): 409."""
        order = self.get_object()
        self._side(order, order.source_site_id, order.destination_site_id)
        body = TransferSerialFoundSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        moves = services.transfer_order_serial_found(
            order=order, serial=data["serial"], item=data.get("item"), location=data["location"], actor=request.user
        )
        return Response(MovesPostedSerializer({"moves": moves}).data)

    @extend_schema(
        parameters=[OpenApiParameter("site", str, required=True, description="Site code")],
        responses=InTransitRowSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="in-transit")
    def in_transit(self, request):
        """What travels from (outbound) and to (inbound) ``site`` now, per order line."""
        code = request.query_params.get("site")
        if not code:
            raise serializers.ValidationError({"site": ["Give site=<code>."]})
        site = Site.objects.restrict(request.user, "view").filter(code=code).first()
        if site is None:
            raise NotFound("No such site.")
        rows = selectors.in_transit_rows(user=request.user, site=site)
        return Response(InTransitRowSerializer(rows, many=True).data)
