from rest_framework.routers import DefaultRouter

from tracker.api import views

router = DefaultRouter(trailing_slash=True)
router.register("sites", views.SiteViewSet, basename="site")
router.register("locations", views.LocationViewSet, basename="location")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = router.urls
