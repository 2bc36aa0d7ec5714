"""Outgoing webhooks: partners follow a site's events without polling.

Events are written to an outbox (``WebhookEvent`` + one ``WebhookDelivery`` per
subscribed endpoint) inside the business transaction, so an event exists
exactly when the change it describes was committed. Celery drains the outbox
after commit; a beat sweeper drains whatever is left (broker down, receiver
down, retries). Deliveries follow Standard Webhooks (https://www.standardwebhooks.com).
"""
