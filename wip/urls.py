app_name = "wip"

urlpatterns: list = []
