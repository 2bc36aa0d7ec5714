from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path("", views.index, name="index"),
    path("unknown/<int:tag_pk>/assign/", views.assign_unknown, name="assign_unknown"),
    path("<str:device_id>/", views.device_detail, name="detail"),
]
