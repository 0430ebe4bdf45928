"""Agency pages on the console host, under /console/api-keys/."""

from django.urls import path

from . import views

app_name = "usage_console"

urlpatterns = [
    path("", views.agency_keys, name="keys"),
    path("<int:key_id>/revoke/", views.agency_key_revoke, name="key_revoke"),
]
