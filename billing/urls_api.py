"""API and webhook URLs on the console host."""

app_name = "api"

urlpatterns: list = []
