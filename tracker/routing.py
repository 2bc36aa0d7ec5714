from django.urls import path

from tracker import consumers

websocket_urlpatterns = [
    path("ws/sites/<slug:site_code>/", consumers.SiteConsumer.as_asgi(), name="ws-site"),
    path("ws/stations/<str:station_code>/", consumers.StationConsumer.as_asgi(), name="ws-station"),
]
