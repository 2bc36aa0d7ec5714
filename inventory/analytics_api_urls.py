from django.urls import path

from inventory import analytics_views

urlpatterns = [
    path("<slug:slug>/", analytics_views.ReportAPIView.as_view(), name="inventory-analytics"),
]
