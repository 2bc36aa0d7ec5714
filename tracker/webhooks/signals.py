"""Any change to an endpoint (service, admin, shell) refreshes the subscription cache."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tracker.webhooks.models import WebhookEndpoint


@receiver([post_save, post_delete], sender=WebhookEndpoint, dispatch_uid="webhooks.endpoint_changed")
def _endpoint_changed(sender, instance: WebhookEndpoint, **kwargs) -> None:
    from tracker.webhooks.services import subscriptions_changed

    subscriptions_changed(instance.site_id)
