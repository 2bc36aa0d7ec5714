from django.urls import path
from rest_framework.routers import DefaultRouter

from tracker.api import views
from tracker.api.ping import PingView

router = DefaultRouter(trailing_slash=True)
router.register("sites", views.SiteViewSet, basename="site")
router.register("locations", views.LocationViewSet, basename="location")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [path("ping/", PingView.as_view(), name="api-ping"), *router.urls]
