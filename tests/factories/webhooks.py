from __future__ import annotations

import factory

from tests.factories.tracker import SiteFactory, UserFactory
from tracker.webhooks.models import WebhookEndpoint


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """Created directly (no target check): tests choose their own transport."""

    class Meta:
        model = WebhookEndpoint

    owner = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    url = "https://partner.example.com/hooks/shopfloor"
    event_types = factory.LazyFunction(lambda: ["alert.raised", "stock.changed"])
