"""Cycle counts through the API: open a count, record counted quantities, approve it.

Thin over ``inventory.services`` (``cycle_count_create``, ``cycle_count_record``,
``cycle_count_approve``): whatever rule the count service enforces (who may
approve, what may be recorded) holds here unchanged. Counts are addressed by
id; another site's count is a 404 on every action (the queryset is restricted
in ``initial()``), and a location or lot named in a body is looked up among
the user's own.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory import services
from inventory.api import filters
from inventory.api.serializers import QTY, StockMoveSerializer, _item_field, _location_field, _LotByCode
from inventory.models import CycleCount, CycleCountLine
from tracker.api.access import Access, Needs
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.idempotency import idempotent_write


class CycleCountLineSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    unit = serializers.CharField(source="item.unit", read_only=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    variance = serializers.DecimalField(**QTY, read_only=True, allow_null=True, help_text="counted - expected")
    counted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="null: recorded by a device scan"
    )

    class Meta:
        model = CycleCountLine
        fields = [
            "id",
            "item",
            "unit",
            "location",
            "lot",
            "expected",
            "counted",
            "variance",
            "counted_at",
            "counted_by",
        ]


class CycleCountSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True, help_text="open, submitted, approved, cancelled")
    lines = CycleCountLineSerializer(many=True, read_only=True)
    approval_by_other = serializers.BooleanField(
        source="site.count_approval_by_other",
        read_only=True,
        help_text="The site wants variances approved by someone other than the person who counted them.",
    )

    class Meta:
        model = CycleCount
        fields = [
            "id",
            "site",
            "location",
            "reference",
            "status",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "approval_by_other",
            "lines",
        ]


class CountCreateSerializer(serializers.Serializer):
    location = _location_field(help_text="The area counted (its subtree)")
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


class CountRecordSerializer(serializers.Serializer):
    item = _item_field()
    location = _location_field(help_text="Where it was counted: in the count's area")
    lot = serializers.CharField(required=False, allow_blank=True, help_text="Lot code (lot-tracked items)")
    counted = serializers.DecimalField(**QTY, min_value=0)

    def validate(self, attrs):
        attrs["lot"] = _LotByCode.resolve(self, attrs["item"], attrs.get("lot"))
        return attrs


class CountApprovedSerializer(CycleCountSerializer):
    moves = StockMoveSerializer(many=True, source="moves_posted", help_text="the count adjustments posted")

    class Meta(CycleCountSerializer.Meta):
        fields = [*CycleCountSerializer.Meta.fields, "moves"]


class CycleCountViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """``counts/`` (list, create), ``counts/<id>/`` (with its lines), ``record/``, ``approve/``."""

    queryset = (
        CycleCount.objects.select_related("site", "location", "created_by", "approved_by")
        .prefetch_related("lines__item", "lines__location", "lines__lot", "lines__counted_by")
        .order_by("-created_at", "-pk")
    )
    serializer_class = CycleCountSerializer
    filterset_class = filters.CycleCountFilter
    # Counting and approving change the count; approving posts count adjustments (the
    # service's own rules decide who may approve what).
    access = Access(
        read="read_inventory",
        write="write_receipts_shipments",
        actions={"record": Needs("change"), "approve": Needs("change")},
    )

    @extend_schema(request=CountCreateSerializer, responses={201: CycleCountSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        body = CountCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        count = services.cycle_count_create(actor=request.user, **body.validated_data)
        data = CycleCountSerializer(count, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CountRecordSerializer, responses=CycleCountLineSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def record(self, request, pk=None):
        """Record one counted quantity (again for the same item, location and lot: replaces it)."""
        count = self.get_object()
        body = CountRecordSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        line = services.cycle_count_record(count=count, actor=request.user, **body.validated_data)
        return Response(CycleCountLineSerializer(line).data)

    @extend_schema(request=None, responses=CountApprovedSerializer)
    @action(detail=True, methods=["post"])
    @idempotent_write
    def approve(self, request, pk=None):
        """Approve: every line's variance posts as a count adjustment, all or none."""
        count = self.get_object()
        moves = services.cycle_count_approve(count=count, actor=request.user)
        approved = self.get_queryset().get(pk=count.pk)  # re-read: status, approver, lines
        approved.moves_posted = moves
        return Response(CountApprovedSerializer(approved, context=self.get_serializer_context()).data)
