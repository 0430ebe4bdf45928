"""Client pages on an agency's portal host."""

from django.urls import path

from . import portal_views as views

app_name = "ops_portal"

urlpatterns = [
    path("usage/report/", views.usage_report, name="usage_report"),
    path("usage/report.csv", views.usage_report_csv, name="usage_report_csv"),
    path("settings/alerts/", views.alerts, name="alerts"),
    path("settings/alerts/secret/", views.alerts_secret, name="alerts_secret"),
]
