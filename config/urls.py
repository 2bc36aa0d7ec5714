from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from tracker.health import healthz
from tracker.observability.views import metrics_view
from tracker.security.docs import SwaggerDocsView

api_v1: list[URLPattern | URLResolver] = [
    path("", include("tracker.api.urls")),
    path("inventory/", include("inventory.api.urls")),
    path("wip/", include("wip.api.urls")),
    path("devices/", include("devices.api.urls")),
    path("epcis/", include("devices.api.epcis_urls")),
    path("webhooks/", include("tracker.webhooks.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("tracker.security.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("inventory/", include("inventory.urls")),
    path("wip/", include("wip.urls")),
    path("devices/", include("devices.urls")),
    path("", include("tracker.urls")),
]
