from django.urls import path

from wip.analytics import views as analytics_views

urlpatterns = [
    path("<slug:slug>/", analytics_views.ReportAPIView.as_view(), name="wip-analytics"),
]
