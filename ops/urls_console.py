"""Agency pages on the console host, under /console/ops/."""

from django.urls import path

from . import console_views as views

app_name = "ops_console"

urlpatterns = [
    path("business/", views.business, name="business"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/secret/", views.alerts_secret, name="alerts_secret"),
    path("usage-source/", views.usage_source, name="usage_source"),
    path("usage-source/sync/", views.usage_source_sync, name="usage_source_sync"),
    path("usage-source/delete/", views.usage_source_delete, name="usage_source_delete"),
]
