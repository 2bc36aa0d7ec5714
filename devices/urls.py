from django.urls import include, path

from devices import views

app_name = "devices"

urlpatterns = [
    path("", views.index, name="index"),
    path("live/", include("devices.live.urls")),  # asset finder and plant dashboard (live pages)
    path("pipeline/", include("devices.pipeline_admin")),  # admins: pipeline state (lag, rejects, silent devices)
    path("excursions/", include("devices.excursions.urls")),  # held stock per excursion (quality)
    path("unknown/<int:tag_pk>/assign/", views.assign_unknown, name="assign_unknown"),
    path("<str:device_id>/", views.device_detail, name="detail"),
]
