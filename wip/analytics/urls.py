from django.urls import path

from wip.analytics import views as analytics_views

urlpatterns = [
    path("", analytics_views.index, name="analytics"),
    path("<slug:slug>/", analytics_views.report, name="analytics_report"),
]
