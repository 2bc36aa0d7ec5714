from django.urls import path

from inventory.analytics import views as analytics_views

urlpatterns = [
    path("<slug:slug>/", analytics_views.ReportAPIView.as_view(), name="inventory-analytics"),
]
