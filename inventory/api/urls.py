from django.urls import include, path
from rest_framework.routers import DefaultRouter

from inventory.api import counts, forecasts, transfers, views

router = DefaultRouter(trailing_slash=True)
router.register("items", views.ItemViewSet, basename="inventory-item")
router.register("levels", views.StockLevelViewSet, basename="inventory-level")
router.register("moves", views.StockMoveViewSet, basename="inventory-move")
router.register("lots", views.LotViewSet, basename="inventory-lot")
router.register("serials", views.SerialViewSet, basename="inventory-serial")
router.register("receipts", views.ReceiptViewSet, basename="inventory-receipt")
router.register("shipments", views.ShipmentViewSet, basename="inventory-shipment")
router.register("reservations", views.ReservationViewSet, basename="inventory-reservation")
router.register("counts", counts.CycleCountViewSet, basename="inventory-count")
router.register("forecasts", forecasts.ForecastViewSet, basename="inventory-forecast")
router.register("transfer-orders", transfers.TransferOrderViewSet, basename="inventory-transfer-order")

urlpatterns = [
    path("trace/", views.TraceView.as_view(), name="inventory-trace"),
    path("analytics/", include("inventory.analytics.api_urls")),
    *router.urls,
]
