from django.urls import path

from inventory.analytics import views as analytics_views

urlpatterns = [
    path("", analytics_views.index, name="analytics"),
    path("forecasts/", analytics_views.forecasts, name="forecasts"),
    path("forecasts/<str:sku>/", analytics_views.forecast_detail, name="forecast"),
    path("forecasts/<str:sku>/apply/", analytics_views.forecast_apply, name="forecast_apply"),
    path("<slug:slug>/", analytics_views.report, name="analytics_report"),
]
