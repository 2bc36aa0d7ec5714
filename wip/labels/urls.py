from django.urls import path

from wip.labels import views as labels_views

urlpatterns = [
    path("labels/travelers/", labels_views.traveler_labels, name="labels_travelers"),
    path("labels/totes/", labels_views.tote_labels, name="labels_totes"),
]
