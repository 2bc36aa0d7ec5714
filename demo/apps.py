from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Only the management commands need the app installed; the simulator is plain Python."""

    name = "demo"
    verbose_name = "Demo plant"
