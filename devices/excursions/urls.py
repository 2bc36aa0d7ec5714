from django.urls import path

from devices.excursions import views
from tracker.registry import NavEntry, register_nav

# Quality work: the menu places it beside the quality page (tracker/navigation.py MENUS).
register_nav(NavEntry(label="Excursions", url_name="devices:excursions", permission="devices.view_excursion", order=31))

urlpatterns = [
    path("", views.excursion_list, name="excursions"),
    path("<int:pk>/", views.excursion_detail, name="excursion"),
    path("<int:pk>/decide/", views.excursion_decide, name="excursion_decide"),
]
