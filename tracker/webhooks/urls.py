from rest_framework.routers import DefaultRouter

from tracker.webhooks import api

router = DefaultRouter(trailing_slash=True)
router.register("endpoints", api.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("deliveries", api.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
