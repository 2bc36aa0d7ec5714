"""``/api/v1/webhooks/``: endpoints (CRUD), the delivery log and replay.

Users see the endpoints of their sites that they own; holders of
``webhooks.manage_all_webhookendpoint`` (plant managers) see every endpoint of
their sites. API keys need the ``webhooks`` scope.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.api.access import Access, Needs
from tracker.api.base import ScopedModelViewSet, ScopedReadOnlyViewSet, ScopedSlugRelatedField
from tracker.api.filtersets import FilterSet
from tracker.api.idempotency import idempotent_write
from tracker.models import ApiKeyScope, Site
from tracker.webhooks import services
from tracker.webhooks.events import EVENT_TYPES
from tracker.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

HOOKS = ApiKeyScope.WEBHOOKS.value

MANAGE_ALL = "webhooks.manage_all_webhookendpoint"


class WebhookEndpointSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "site",
            "owner",
            "url",
            "description",
            "event_types",
            "active",
            "disabled_reason",
            "failing_since",
            "created_at",
            "updated_at",
        ]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """Returned on create and secret rotation only: the receiver needs the secret to verify."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointCreateSerializer(serializers.Serializer):
    site = ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all())
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookEndpointFilter(FilterSet):
    site = django_filters.CharFilter(field_name="site__code")

    class Meta:
        model = WebhookEndpoint
        fields = ["site", "active"]


def _own_unless_manager(queryset, user, owner_path: str):
    return queryset if user.has_perm(MANAGE_ALL) else queryset.filter(**{owner_path: user})


class WebhookEndpointViewSet(ScopedModelViewSet):
    queryset = WebhookEndpoint.objects.select_related("site", "owner")
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["created_at", "url"]
    access = Access(read=HOOKS, write=HOOKS, actions={"rotate_secret": Needs("change")})

    def get_queryset(self):
        return _own_unless_manager(super().get_queryset(), self.request.user, "owner")

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointWithSecretSerializer})
    @idempotent_write
    def create(self, request, *args, **kwargs):
        serializer = WebhookEndpointCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(owner=request.user, **serializer.validated_data)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        serializer = WebhookEndpointUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, actor=request.user, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def destroy(self, request, *args, **kwargs):
        services.webhook_endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=self.get_object(), actor=request.user)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "error", "response_ms", "response_excerpt"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    site = serializers.CharField(source="endpoint.site.code", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "site",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_ms",
            "delivered_at",
            "created_at",
        ]


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = serializers.JSONField(source="event.payload", read_only=True)
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload", "attempt_log"]


class WebhookDeliveryFilter(FilterSet):
    site = django_filters.CharFilter(field_name="endpoint__site__code")
    event_type = django_filters.ChoiceFilter(field_name="event__type", choices=[(t, t) for t in EVENT_TYPES])
    event_id = django_filters.CharFilter(field_name="event_id")
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "site", "event_type", "event_id", "status"]


class WebhookDeliveryViewSet(ScopedReadOnlyViewSet):
    queryset = WebhookDelivery.objects.select_related("endpoint__site", "event")
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["created_at", "next_attempt_at"]
    access = Access(read=HOOKS, write=HOOKS, actions={"replay": Needs("change")})

    def get_queryset(self):
        queryset = _own_unless_manager(super().get_queryset(), self.request.user, "endpoint__owner")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempt_log")
        return queryset

    def get_serializer_class(self):
        return WebhookDeliveryDetailSerializer if self.action == "retrieve" else WebhookDeliverySerializer

    @extend_schema(request=None, responses=WebhookDeliverySerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Send this delivery again (same webhook-id, so the receiver can still dedupe)."""
        delivery = services.delivery_replay(delivery=self.get_object(), actor=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
