from django.urls import path

from tracker.security import views

app_name = "security"

urlpatterns = [
    path("2fa/setup/", views.otp_setup, name="otp_setup"),
    path("2fa/verify/", views.otp_verify, name="otp_verify"),
]
