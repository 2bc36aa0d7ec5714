from django.urls import path

from inventory.labels import views as labels_views

urlpatterns = [
    path("labels/items/", labels_views.item_labels, name="labels_items"),
    path("labels/lots/", labels_views.lot_labels, name="labels_lots"),
    path("labels/serials/", labels_views.serial_labels, name="labels_serials"),
    path("labels/locations/", labels_views.location_labels, name="labels_locations"),
]
