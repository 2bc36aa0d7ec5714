from django.urls import include, path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock, name="stock"),
    path("items/", views.items, name="items"),
    path("items/<str:sku>/", views.item_detail, name="item"),
    path("receive/", views.receive, name="receive"),
    path("transfer/", views.transfer, name="transfer"),
    path("count/", views.count, name="count"),
    path("count/<int:pk>/approve/", views.count_approve, name="count_approve"),
    path("replenishment/", views.replenishment, name="replenishment"),
    path("expiring/", views.expiring, name="expiring"),
    path("in-transit/", views.in_transit, name="in_transit"),
    path("in-transit/found/", views.in_transit_found, name="in_transit_found"),
    path("trace/", views.trace, name="trace"),
    path("recall/", views.recall, name="recall"),
    path("scan/", views.scan_parse, name="scan"),
    path("", include("inventory.labels.urls")),
    path("analytics/", include("inventory.analytics.urls")),
]
