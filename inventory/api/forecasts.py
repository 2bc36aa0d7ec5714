"""Forecasts and reorder suggestions through the API (read only).

``forecasts/``: the stored weekly demand forecast per (item, site) (recomputed
nightly by ``inventory.forecasting``), each with the reorder point and safety
stock it implies for the item's lead time at ``?service_level=`` (0.5 to
0.999, default 0.95). ``forecasts/<SITE>/<SKU>/``: one. ``forecasts/reorder/
?site=<code>``: what to order now at a site (items under their reorder point
or safety stock, ``inventory.selectors.replenishment``). Everything is scoped
to the user's sites; another site is a 404.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory import selectors
from inventory.api import filters
from inventory.api.serializers import QTY
from inventory.forecasting import services as forecast_services
from inventory.forecasting.models import DemandForecast
from tracker.api.access import Access
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.errors import NotFound
from tracker.models import Site

SERVICE_LEVEL = OpenApiParameter(
    "service_level", float, description="Cycle service level for the suggestion, 0.5 to 0.999 (default 0.95)"
)


def _service_level(request) -> float:
    raw = request.query_params.get("service_level")
    if raw in (None, ""):
        return 0.95
    try:
        level = float(raw)
    except ValueError:
        level = -1.0
    if not 0.5 <= level <= 0.999:
        raise serializers.ValidationError({"service_level": ["A number from 0.5 to 0.999."]})
    return level


class ForecastWeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="Monday of the week")
    mean = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class SuggestionSerializer(serializers.Serializer):
    service_level = serializers.FloatField()
    lead_time_days = serializers.IntegerField()
    demand_during_lead_time = serializers.FloatField()
    safety_stock = serializers.DecimalField(**QTY)
    reorder_point = serializers.DecimalField(**QTY)
    arithmetic = serializers.ListField(child=serializers.CharField())


class ForecastSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField(help_text="SITE/SKU: the forecast's natural key in URLs")
    item = serializers.SlugRelatedField(slug_field="sku", read_only=True)
    unit = serializers.CharField(source="item.unit", read_only=True)
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    mean_weekly = serializers.FloatField(read_only=True, allow_null=True)
    weeks = serializers.SerializerMethodField()
    current_reorder_point = serializers.DecimalField(**QTY, source="item.reorder_point", read_only=True)
    current_safety_stock = serializers.DecimalField(**QTY, source="item.safety_stock", read_only=True)
    suggestion = serializers.SerializerMethodField(help_text="null without a usable forecast")

    class Meta:
        model = DemandForecast
        fields = [
            "key",
            "item",
            "unit",
            "site",
            "status",
            "message",
            "method",
            "computed_at",
            "mase",
            "baseline_mase",
            "sigma_weekly",
            "mean_weekly",
            "weeks",
            "current_reorder_point",
            "current_safety_stock",
            "suggestion",
        ]

    def get_key(self, forecast: DemandForecast) -> str:
        return f"{forecast.site.code}/{forecast.item.sku}"

    @extend_schema_field(ForecastWeekSerializer(many=True))
    def get_weeks(self, forecast: DemandForecast) -> list[dict[str, Any]]:
        return [{"week": w, "mean": m, "lower": lo, "upper": hi} for w, m, lo, hi in forecast.forecast]

    @extend_schema_field(SuggestionSerializer(allow_null=True))
    def get_suggestion(self, forecast: DemandForecast) -> dict[str, Any] | None:
        level = self.context.get("service_level", 0.95)
        suggestion = forecast_services.forecast_suggestion(forecast=forecast, service_level=level)
        if suggestion is None:
            return None
        return SuggestionSerializer(suggestion).data


class ReorderRowSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    on_hand = serializers.DecimalField(**QTY)
    reserved = serializers.DecimalField(**QTY)
    available = serializers.DecimalField(**QTY)
    reorder_point = serializers.DecimalField(**QTY)
    safety_stock = serializers.DecimalField(**QTY)
    order_quantity = serializers.DecimalField(
        **QTY, help_text="suggested order: up to max stock, else the reorder quantity"
    )
    lead_time_days = serializers.IntegerField()
    below_safety = serializers.BooleanField()
    order_by = serializers.DateField()


@extend_schema_view(
    list=extend_schema(parameters=[SERVICE_LEVEL]),
    retrieve=extend_schema(parameters=[SERVICE_LEVEL]),
)
class ForecastViewSet(ScopedReadOnlyViewSet):
    queryset = DemandForecast.objects.select_related("item", "site").order_by("site__code", "item__sku", "pk")
    serializer_class = ForecastSerializer
    filterset_class = filters.ForecastFilter
    lookup_field = "key"
    lookup_value_regex = "[^/]+/[^/]+"
    access = Access(read="read_inventory")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "service_level": _service_level(self.request)}

    def get_object(self) -> DemandForecast:
        site, _, sku = self.kwargs["key"].partition("/")
        obj = get_object_or_404(self.get_queryset(), site__code=site, item__sku=sku)
        self.check_object_permissions(self.request, obj)
        return obj

    @extend_schema(
        parameters=[OpenApiParameter("site", str, required=True, description="Site code")],
        responses=ReorderRowSerializer(many=True),
    )
    @action(detail=False, methods=["get"])
    def reorder(self, request):
        """Items to order now at ``site``: under their reorder point or safety stock, with how much."""
        code = request.query_params.get("site")
        if not code:
            raise serializers.ValidationError({"site": ["Give site=<code>."]})
        site = Site.objects.restrict(request.user, "view").filter(code=code).first()
        if site is None:
            raise NotFound("No such site.")
        rows = selectors.replenishment(user=request.user, site=site)
        return Response(ReorderRowSerializer(rows, many=True).data)
