"""Agency pages on the console host, under /console/ops/."""

from django.urls import path

from . import client_views, console_views as views, notice_views

app_name = "ops_console"

urlpatterns = [
    path("business/", views.business, name="business"),
    path("business/chart-<str:size>.svg", views.business_chart, name="business_chart"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/secret/", views.alerts_secret, name="alerts_secret"),
    path("alerts/test/", notice_views.alerts_test, name="alerts_test"),
    path("alerts/deliveries/<int:delivery_id>/retry/", notice_views.alerts_retry, name="alerts_retry"),
    path("notifications/", notice_views.notifications, name="notifications"),
    path("clients/<int:org_id>/", client_views.client, name="client"),
    path("clients/<int:org_id>/chart-<str:size>.svg", client_views.client_chart, name="client_chart"),
    path("clients/<int:org_id>/notes/", client_views.client_notes, name="client_notes"),
    path("clients/<int:org_id>/suspend/", client_views.client_suspend, name="client_suspend"),
    path("clients/<int:org_id>/resume/", client_views.client_resume, name="client_resume"),
    path("usage-source/", views.usage_source, name="usage_source"),
    path("usage-source/sync/", views.usage_source_sync, name="usage_source_sync"),
    path("usage-source/delete/", views.usage_source_delete, name="usage_source_delete"),
]
