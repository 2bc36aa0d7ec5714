from django.urls import path

from devices.api import epcis

urlpatterns = [
    path("capture", epcis.EpcisCaptureView.as_view(), name="epcis-capture"),
    path("capture/<uuid:pk>", epcis.EpcisCaptureDetailView.as_view(), name="epcis-capture-detail"),
    path("events", epcis.EpcisEventsView.as_view(), name="epcis-events"),
]
