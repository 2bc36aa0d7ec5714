"""Inventory API shapes: natural keys in and out (SKU, location code, lot code, serial)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import serializers

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
from tracker.api.base import ScopedSlugRelatedField
from tracker.api.represent import datetime_text, decimal_text
from tracker.errors import ValidationFailed
from tracker.fields import DecimalSize
from tracker.models import Location, Site

QTY: DecimalSize = {"max_digits": 18, "decimal_places": 4}


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = [
            "sku",
            "name",
            "description",
            "kind",
            "unit",
            "gtin",
            "tracking",
            "shelf_life_days",
            "reorder_point",
            "safety_stock",
            "reorder_quantity",
            "max_stock",
            "lead_time_days",
            "allow_negative",
            "standard_cost",
            "external_id",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked by the service (409 duplicate), not by a validator query here.
        extra_kwargs = {"sku": {"validators": []}, "gtin": {"validators": []}}


class LotSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField(help_text="SKU/lot code: the lot's natural key in URLs")
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="available, quarantined, on_hold, expired, recalled")

    class Meta:
        model = Lot
        fields = [
            "key",
            "item",
            "code",
            "site",
            "origin",
            "origin_reference",
            "supplier",
            "manufactured_date",
            "expiry_date",
            "status",
            "status_reason",
            "created_at",
        ]

    def get_key(self, lot: Lot) -> str:
        return f"{lot.item.sku}/{lot.code}"


class SerialSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField()
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="in_stock, in_transit, consumed, shipped, scrapped, on_hold"
    )

    class Meta:
        model = SerialUnit
        fields = ["key", "item", "serial", "lot", "location", "status", "created_at", "updated_at"]

    def get_key(self, unit: SerialUnit) -> str:
        return f"{unit.item.sku}/{unit.serial}"


class StockLevelSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    unit = serializers.CharField(source="item.unit", read_only=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    available = serializers.DecimalField(**QTY, read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "item", "unit", "site", "location", "lot", "on_hand", "reserved", "available", "updated_at"]


#: The columns a levels list shows, fetched with ``.values_list()`` (``level_rows`` turns them into JSON).
LEVEL_COLUMNS = (
    "id",
    "item__sku",
    "item__unit",
    "site__code",
    "location__code",
    "lot__code",
    "on_hand",
    "reserved",
    "updated_at",
)

# Unbound DRF fields, built once: the lean rows format numbers and times exactly as the serializer does.
_QTY_FIELD = serializers.DecimalField(**QTY, read_only=True)
_TIME_FIELD = serializers.DateTimeField(read_only=True)


def level_rows(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``LEVEL_COLUMNS`` tuples in ``StockLevelSerializer``'s shape, without model instances or a
    serializer per row (a list page is the hottest read the partners poll); numbers and times
    formatted as the serializer's fields do, their settings read once for the page."""
    quantity = decimal_text(_QTY_FIELD)
    time = datetime_text(_TIME_FIELD)
    return [
        {
            "id": pk,
            "item": sku,
            "unit": unit,
            "site": site,
            "location": location,
            "lot": lot,
            "on_hand": quantity(on_hand),
            "reserved": quantity(reserved),
            "available": quantity(on_hand - reserved),
            "updated_at": time(updated_at) if updated_at is not None else None,
        }
        for pk, sku, unit, site, location, lot, on_hand, reserved, updated_at in rows
    ]


class StockMoveSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    unit = serializers.CharField(source="item.unit", read_only=True)
    source = serializers.SlugRelatedField(slug_field="code", read_only=True)  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    destination = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    serial = serializers.SlugRelatedField(slug_field="serial", read_only=True, allow_null=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "kind",
            "item",
            "quantity",
            "unit",
            "source",
            "destination",
            "lot",
            "serial",
            "reference",
            "reference_type",
            "partner",
            "external_id",
            "batch",
            "occurred_at",
            "recorded_at",
            "actor",
            "note",
        ]


_UUID_FIELD = serializers.UUIDField(read_only=True)


def _code(obj: Any, attr: str) -> Any:
    return getattr(obj, attr) if obj is not None else None


def move_row(move: StockMove) -> dict[str, Any]:
    """A just-posted move in ``StockMoveSerializer``'s shape, without building the serializer
    (its fields are deep-copied for every instance): the write endpoints answer with these.
    The related objects are the ones the posting used, so this reads nothing."""
    time = _TIME_FIELD.to_representation
    return {
        "id": move.pk,
        "kind": move.kind,
        "item": move.item.sku,
        "quantity": _QTY_FIELD.to_representation(move.quantity),
        "unit": move.item.unit,
        "source": move.source.code,
        "destination": move.destination.code,
        "lot": _code(move.lot, "code"),
        "serial": _code(move.serial, "serial"),
        "reference": move.reference,
        "reference_type": move.reference_type,
        "partner": move.partner,
        "external_id": move.external_id,
        "batch": _UUID_FIELD.to_representation(move.batch),
        "occurred_at": time(move.occurred_at),
        "recorded_at": time(move.recorded_at),
        "actor": _code(move.actor, "username"),
        "note": move.note,
    }


def document_posted_row(doc: Receipt | Shipment) -> dict[str, Any]:
    """A receipt or shipment as just created, in ``ReceiptPostedSerializer`` /
    ``ShipmentPostedSerializer``'s shape (``move_row`` for its moves)."""
    if isinstance(doc, Receipt):
        partner, at = {"supplier": doc.supplier}, {"received_at": _TIME_FIELD.to_representation(doc.received_at)}
    else:
        partner, at = {"customer": doc.customer}, {"shipped_at": _TIME_FIELD.to_representation(doc.shipped_at)}
    return {
        "id": doc.pk,
        "site": doc.site.code,
        "reference": doc.reference,
        **partner,
        "external_id": doc.external_id,
        **at,
        "moves": [move_row(m) for m in doc.moves_posted],
    }


class _LotByCode:
    """Resolve ``lot`` (a code) for the validated item among lots the user may see."""

    @staticmethod
    def resolve(serializer: serializers.Serializer, item: Item, code: str | None, field: str = "lot") -> Lot | None:
        if not code:
            return None
        request = serializer.context["request"]
        lot = Lot.objects.restrict(request.user, "view").filter(item=item, code=code).first()
        if lot is None:
            raise serializers.ValidationError({field: [f"No lot {code!r} of {item.sku}."]})
        return lot


def lot_by_code(user: Any, item: Item, code: str | None) -> Lot | None:
    """The lot ``code`` of ``item`` among the lots ``user`` may see; another site's lot is
    a missing one, a 400 ``validation_failed`` on ``lot`` (a domain error, so a document can
    name every bad line)."""
    if not code:
        return None
    lot = Lot.objects.restrict(user, "view").filter(item=item, code=code).first()
    if lot is None:
        raise ValidationFailed(f"No lot {code!r} of {item.sku}.", field="lot")
    return lot


def _item_field() -> ScopedSlugRelatedField:
    return ScopedSlugRelatedField(slug_field="sku", queryset=Item.objects.all())


def _location_field(**kwargs) -> ScopedSlugRelatedField:
    return ScopedSlugRelatedField(slug_field="code", queryset=Location.objects.all(), **kwargs)


class MoveCreateSerializer(serializers.Serializer):
    KINDS = ["receive", "transfer", "issue", "adjust", "scrap"]

    kind = serializers.ChoiceField(choices=KINDS)
    item = _item_field()
    quantity = serializers.DecimalField(**QTY, help_text="> 0; for adjust, the signed change")
    unit = serializers.CharField(required=False, allow_blank=True, help_text="If given, must be the item's unit")
    location = _location_field(required=False, help_text="receive, issue, adjust, scrap")
    source = _location_field(required=False, help_text="transfer")  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    destination = _location_field(required=False, help_text="transfer")
    lot = serializers.CharField(required=False, allow_blank=True, help_text="Lot code (a new one on receive)")
    serials = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    expiry_date = serializers.DateField(required=False, allow_null=True)
    manufactured_date = serializers.DateField(required=False, allow_null=True)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    reference_type = serializers.ChoiceField(choices=StockMove.ReferenceType.values, required=False)
    supplier = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    external_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        kind = attrs["kind"]
        needs = {"transfer": ("source", "destination")}.get(kind, ("location",))
        missing = {name: ["This field is required for this kind."] for name in needs if not attrs.get(name)}
        if missing:
            raise serializers.ValidationError(missing)
        if kind != "receive":
            attrs["lot"] = _LotByCode.resolve(self, attrs["item"], attrs.get("lot"))
        return attrs


class LineSerializer(serializers.Serializer):
    item = _item_field()
    quantity = serializers.DecimalField(**QTY)
    unit = serializers.CharField(required=False, allow_blank=True)
    location = _location_field()
    lot = serializers.CharField(required=False, allow_blank=True)
    serials = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    expiry_date = serializers.DateField(required=False, allow_null=True)
    manufactured_date = serializers.DateField(required=False, allow_null=True)
    external_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


#: Lines in one receipt or shipment; a bigger document is refused before any lookup.
MAX_LINES = 500


class DocumentCreateSerializer(serializers.Serializer):
    """A purchase order's receipt or a sales order's shipment: several lines at once."""

    site = ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all())
    reference = serializers.CharField(max_length=100)
    partner = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    external_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    # many=True hands max_length to the ListSerializer; the stubs' signature lacks it.
    lines = LineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]

    def to_internal_value(self, data):
        lines = data.get("lines") if hasattr(data, "get") else None
        if isinstance(lines, list) and len(lines) <= MAX_LINES:
            lines_field = self.fields["lines"]
            child = lines_field.child if isinstance(lines_field, serializers.ListSerializer) else None
            if not isinstance(child, LineSerializer):
                raise TypeError("lines is declared as LineSerializer(many=True)")
            named = [line for line in lines if isinstance(line, dict)]
            for name in ("item", "location"):
                field = child.fields[name]
                if isinstance(field, ScopedSlugRelatedField):  # (both are; prefetching only saves queries)
                    field.prefetch([line.get(name) for line in named])
        return super().to_internal_value(data)


class ReceiptSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Receipt
        fields = ["id", "site", "reference", "supplier", "external_id", "received_at"]


class ShipmentSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Shipment
        fields = ["id", "site", "reference", "customer", "external_id", "shipped_at"]


class ReservationSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="open, consumed, released")

    class Meta:
        model = StockReservation
        fields = [
            "id",
            "item",
            "site",
            "lot",
            "location",
            "quantity",
            "quantity_requested",
            "reference",
            "reference_type",
            "status",
            "created_at",
            "closed_at",
        ]


class ReserveSerializer(serializers.Serializer):
    item = _item_field()
    quantity = serializers.DecimalField(**QTY)
    site = ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all())
    reference = serializers.CharField(max_length=100)
    reference_type = serializers.CharField(required=False, default="work_order", max_length=16)
    lot = serializers.CharField(required=False, allow_blank=True)
    location = _location_field(required=False, allow_null=True)


class ReleaseSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100)
    reference_type = serializers.CharField(required=False, default="work_order", max_length=16)
    item = _item_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].required = False


class LotStatusSerializer(serializers.Serializer):
    status = serializers.CharField(max_length=16, help_text="available, quarantined, on_hold, expired, recalled")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RecallSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


# --- responses that are not one model's row (they render the views' answers, so the schema tells them) ---


class ImportReportSerializer(serializers.Serializer):
    """A CSV import's report (``inventory.csvio.ImportReport``): 200 when ``ok``, else 400 and nothing imported."""

    ok = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    errors = serializers.ListField(  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
        child=serializers.DictField(), help_text="row, field and message of each problem"
    )


class MovesPostedSerializer(serializers.Serializer):
    moves = StockMoveSerializer(many=True)


class ReceiptPostedSerializer(ReceiptSerializer):
    moves = StockMoveSerializer(many=True, source="moves_posted")

    class Meta(ReceiptSerializer.Meta):
        fields = [*ReceiptSerializer.Meta.fields, "moves"]


class ShipmentPostedSerializer(ShipmentSerializer):
    moves = StockMoveSerializer(many=True, source="moves_posted")

    class Meta(ShipmentSerializer.Meta):
        fields = [*ShipmentSerializer.Meta.fields, "moves"]


class RecallResultSerializer(serializers.Serializer):
    """``inventory.services.lot_recall``'s result: keys are ``SKU/code`` and ``SKU/serial``."""

    lot = LotSerializer()
    held_lots = serializers.SerializerMethodField()
    held_serials = serializers.SerializerMethodField()
    affected_shipments = serializers.ListField(child=serializers.DictField())

    def get_held_lots(self, result) -> list[str]:
        return [f"{x.item.sku}/{x.code}" for x in result.held_lots]

    def get_held_serials(self, result) -> list[str]:
        return [f"{x.item.sku}/{x.serial}" for x in result.held_serials]


class ReleasedSerializer(serializers.Serializer):
    released = serializers.IntegerField(help_text="reservations released")


class TraceSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["backward", "forward"])
    tree = serializers.JSONField(help_text="the lot or serial, its moves and, level by level, its inputs or uses")
