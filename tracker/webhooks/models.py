"""Endpoints, the event outbox, deliveries and their attempt log."""

from __future__ import annotations

import secrets
import time
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracker.models import Site
from tracker.scoping import RestrictedQuerySet
from tracker.webhooks.signing import generate_secret


def new_event_id() -> str:
    """``evt_`` + 12 hex digits of milliseconds + 16 random hex: unique and time-sortable."""
    return f"evt_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


class WebhookEndpointQuerySet(RestrictedQuerySet):
    def active(self) -> Self:
        return self.filter(active=True)


class WebhookEndpoint(models.Model):
    """A partner's receiver for one site's events of the subscribed types."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Standard Webhooks form: "whsec_" + base64 of the HMAC key bytes.
    secret = models.CharField(max_length=100, default=generate_secret)
    event_types = models.JSONField(default=list, help_text='Subscribed event types, e.g. ["stock.changed"]')
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookEndpointQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "pk"]
        indexes = [models.Index(fields=["site", "active"])]
        permissions = [("manage_all_webhookendpoint", "Can manage every webhook endpoint of their sites")]

    def __str__(self) -> str:
        return f"{self.site_id}:{self.url}"


class WebhookEvent(models.Model):
    """The outbox: one row per event that at least one endpoint subscribed to.

    ``id`` is the ``webhook-id`` header: identical on every attempt and replay,
    so a receiver drops duplicates by it.
    """

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not tried yet
    FAILED = "failed", "Failed, will retry"
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Given up"


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class WebhookDeliveryQuerySet(RestrictedQuerySet):
    def due(self, now) -> Self:
        return self.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)


class WebhookDelivery(models.Model):
    """One event for one endpoint: the unit that is sent, retried and replayed."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookDeliveryQuerySet.as_manager()
    site_path = "endpoint__site"

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sweeper's scan: only rows still to send are in this index.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["endpoint", "-created_at"]),
        ]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_endpoint_event")]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """The log: one row per HTTP attempt (or pre-flight refusal)."""

    # No database constraint: deliveries are partitioned on PostgreSQL (primary key (id,
    # created_at)), which a foreign key cannot reference; Django still cascades.
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", db_constraint=False
    )
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
