from django.urls import include, path
from rest_framework.routers import DefaultRouter

from wip.api import oee, reports, views

router = DefaultRouter(trailing_slash=True)
router.register("workstations", views.WorkstationViewSet, basename="wip-workstation")
router.register("routings", views.RoutingViewSet, basename="wip-routing")
router.register("work-orders", views.WorkOrderViewSet, basename="wip-workorder")
router.register("runs", views.OperationRunViewSet, basename="wip-run")
router.register("defects", views.DefectViewSet, basename="wip-defect")
router.register("inspections", views.InspectionViewSet, basename="wip-inspection")
router.register("holds", views.HoldViewSet, basename="wip-hold")
router.register("station-states", oee.StationStateViewSet, basename="wip-stationstate")
router.register("stop-reasons", oee.ReasonCodeViewSet, basename="wip-stopreason")

urlpatterns = [
    path("load/", reports.LoadView.as_view(), name="wip-load"),
    path("metrics/", reports.MetricsView.as_view(), name="wip-metrics"),
    path("oee/", oee.OeeView.as_view(), name="wip-oee"),
    path("analytics/", include("wip.analytics.api_urls")),
    *router.urls,
]
