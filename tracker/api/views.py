from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker import services
from tracker.api.access import Access, Needs, closed_to_keys
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.filters import AlertFilter, LocationFilter
from tracker.api.idempotency import idempotent_write
from tracker.api.serializers import (
    AlertSerializer,
    LocationCreateSerializer,
    LocationSerializer,
    SiteSerializer,
)
from tracker.models import Alert, Location, Site


class SiteViewSet(ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    lookup_field = "code"
    ordering_fields = ["code", "name"]


class LocationViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    conditional = True  # ETag / If-None-Match (tracker.api.conditional)
    queryset = Location.objects.select_related("site", "parent")
    serializer_class = LocationSerializer
    filterset_class = LocationFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["code", "path"]
    access = Access(write=closed_to_keys("Locations are the plant's layout, set up by its staff."))

    @extend_schema(request=LocationCreateSerializer, responses={201: LocationSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        serializer = LocationCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        location = services.location_create(**serializer.validated_data)
        return Response(LocationSerializer(location).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def children(self, request, code=None):
        location = get_object_or_404(self.get_queryset(), code=code)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).filter(parent=location))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AlertViewSet(ScopedReadOnlyViewSet):
    queryset = Alert.objects.select_related("site", "acknowledged_by")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    access = Access(
        write=closed_to_keys("Acknowledging an alert says a person on the floor has seen it."),
        actions={"acknowledge": Needs("change")},
    )

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = services.alert_acknowledge(alert=self.get_object(), user=request.user)
        return Response(AlertSerializer(alert).data)
