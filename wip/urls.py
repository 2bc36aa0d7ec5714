from django.urls import include, path

from wip import views, views_bottlenecks, views_oee, views_planning, views_quality

app_name = "wip"

urlpatterns = [
    path("", views.board, name="board"),
    path("stations/", views.stations, name="stations"),
    path("stations/<str:code>/", views.station, name="station"),
    path("stations/<str:code>/scan/", views.station_scan, name="station_scan"),
    path("stations/<str:code>/state/", views_oee.station_state, name="station_state"),
    path("stations/<str:code>/stop/", views_oee.station_stop, name="station_stop"),
    path("stations/<str:code>/resume/", views_oee.station_resume, name="station_resume"),
    path("station-states/<int:pk>/reason/", views_oee.state_reason, name="state_reason"),
    path("oee/", views_oee.oee_page, name="oee"),
    path("runs/<int:pk>/defect/", views.run_defect, name="run_defect"),
    path("runs/<int:pk>/inspect/", views_quality.inspect, name="inspect"),
    path("runs/<int:pk>/<str:verb>/", views.run_action, name="run_action"),
    path("work-orders/", views.work_orders, name="work_orders"),
    path("work-orders/new/", views_planning.work_order_new, name="work_order_new"),
    path("work-orders/<str:number>/", views.work_order, name="work_order"),
    path("work-orders/<str:number>/<str:verb>/", views.work_order_action, name="work_order_action"),
    path("bottlenecks/", views_bottlenecks.bottlenecks, name="bottlenecks"),
    path("quality/", views.quality, name="quality"),
    path("defects/<int:pk>/dispose/", views.defect_dispose, name="defect_dispose"),
    path("holds/<int:pk>/release/", views.hold_release, name="hold_release"),
    path("", include("wip.labels.urls")),
    path("analytics/", include("wip.analytics.urls")),
]
