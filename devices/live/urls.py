"""Routes of the live pages, included from ``devices/urls.py`` under ``live/``.

The nav entries are registered here, where the routes are known, so that the
devices app's own files need only the one include line.
"""

from django.urls import path

from devices.live import views as live_views
from tracker.registry import NavEntry, register_nav

urlpatterns = [
    path("find/", live_views.finder, name="finder"),
    path("plant/", live_views.plant, name="plant"),
]

register_nav(NavEntry(label="Plant", url_name="devices:plant", permission="tracker.view_site", order=5))
register_nav(NavEntry(label="Find", url_name="devices:finder", permission="tracker.view_site", order=65))
