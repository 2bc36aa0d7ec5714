from django.urls import path
from rest_framework.routers import DefaultRouter

from devices.api import views

router = DefaultRouter(trailing_slash=True)
router.register("uploads", views.ReaderUploadViewSet, basename="reader-upload")
router.register("devices", views.DeviceViewSet, basename="device")
router.register("tags", views.TagViewSet, basename="tag")
router.register("unknown-tags", views.UnknownTagViewSet, basename="unknown-tag")

upload_list = views.ReaderUploadViewSet.as_view({"post": "create", "get": "list"})
upload_detail = views.ReaderUploadViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    # For devices that can only be given a URL: the key is the path token.
    path("u/<str:token>/uploads/", upload_list, name="device-token-upload"),
    path("u/<str:token>/uploads/<int:pk>/", upload_detail, name="device-token-upload-detail"),
    *router.urls,
]
